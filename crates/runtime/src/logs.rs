//! Container log files: the format the shim writes and the readers the agent serves
//! `kubectl logs` from.
//!
//! # Format
//!
//! The kubelet's own CRI logging format, one record per line:
//!
//! ```text
//! 2025-01-02T03:04:05.123456789Z stdout F hello world
//! 2025-01-02T03:04:05.123456789Z stderr P first 16 KiB of a very long line…
//! ```
//!
//! The timestamp (RFC 3339, UTC, always 9 fractional digits so records sort as text) is
//! when the shim read the bytes; `F` marks a full line, `P` a partial one (lines longer than
//! 16 KiB are split, as containerd does; a last line without newline is written as `F`).
//! Why this format rather than raw bytes plus an index: `--timestamps`, `--since-time` and
//! `--tail` need a time per line, and one self-describing file per start is simpler to keep
//! consistent than two files, survives a crash mid-write (a torn last line is skipped), is
//! what `crictl`/kubelet tooling reads, and costs ~36 bytes per line. The price is that the
//! shim copies the output through a pipe instead of the child writing the file directly.

use std::fs::File;
use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use futures::Stream;
use jiff::Timestamp;

/// Lines longer than this are split into partial (`P`) records.
pub const MAX_RECORD: usize = 16 * 1024;

/// How often [`follow`] looks for new data once it has read everything.
const FOLLOW_POLL: Duration = Duration::from_millis(25);

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl LogStream {
    fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// One parsed log record, borrowing from the line it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// When the shim read it.
    pub time: Timestamp,
    /// The timestamp exactly as written (to print with `--timestamps`).
    pub time_text: &'a str,
    /// stdout or stderr.
    pub stream: LogStream,
    /// False for a partial record (the line continues in the next record).
    pub full: bool,
    /// The bytes, without the newline.
    pub content: &'a [u8],
}

/// Parses one line of a log file (with or without its trailing newline). `None` if it is not
/// a well-formed record.
pub fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let mut parts = line.splitn(4, |&b| b == b' ');
    let time_text = std::str::from_utf8(parts.next()?).ok()?;
    let time: Timestamp = time_text.parse().ok()?;
    let stream = match parts.next()? {
        b"stdout" => LogStream::Stdout,
        b"stderr" => LogStream::Stderr,
        _ => return None,
    };
    let full = match parts.next()? {
        b"F" => true,
        b"P" => false,
        _ => return None,
    };
    let content = parts.next().unwrap_or(b"");
    Some(Record {
        time,
        time_text,
        stream,
        full,
        content,
    })
}

/// Formats a timestamp as the log format does: RFC 3339, UTC, 9 fractional digits.
pub fn format_time(t: Timestamp) -> String {
    format!("{t:.9}")
}

/// Turns one stream's raw bytes into records (used by the shim).
#[derive(Debug)]
pub(crate) struct LineSplitter {
    stream: LogStream,
    pending: Vec<u8>,
}

impl LineSplitter {
    pub(crate) fn new(stream: LogStream) -> Self {
        LineSplitter {
            stream,
            pending: Vec::new(),
        }
    }

    /// Appends the records completed by `data` to `out`, stamped `time`.
    pub(crate) fn feed(&mut self, data: &[u8], time: &str, out: &mut Vec<u8>) {
        self.pending.extend_from_slice(data);
        let mut start = 0;
        while let Some(i) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + i;
            // A line longer than a record is cut into partial records first.
            while end - start > MAX_RECORD {
                record(
                    out,
                    time,
                    self.stream,
                    false,
                    &self.pending[start..start + MAX_RECORD],
                );
                start += MAX_RECORD;
            }
            record(out, time, self.stream, true, &self.pending[start..end]);
            start = end + 1;
        }
        while self.pending.len() - start >= MAX_RECORD {
            record(
                out,
                time,
                self.stream,
                false,
                &self.pending[start..start + MAX_RECORD],
            );
            start += MAX_RECORD;
        }
        self.pending.drain(..start);
    }

    /// Writes what is left (a last line without newline) as a full record.
    pub(crate) fn finish(&mut self, time: &str, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            record(out, time, self.stream, true, &self.pending);
            self.pending.clear();
        }
    }
}

fn record(out: &mut Vec<u8>, time: &str, stream: LogStream, full: bool, content: &[u8]) {
    out.extend_from_slice(time.as_bytes());
    out.push(b' ');
    out.extend_from_slice(stream.as_str().as_bytes());
    out.extend_from_slice(if full { b" F " } else { b" P " });
    out.extend_from_slice(content);
    out.push(b'\n');
}

/// What to read, as `kubectl logs` asks for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Only the last N records (`--tail`); applied before `since`, as the kubelet does.
    pub tail_lines: Option<u64>,
    /// Only records at or after this time (`--since`, `--since-time`).
    pub since: Option<Timestamp>,
    /// Stop after this many output bytes (`--limit-bytes`), possibly mid-line.
    pub limit_bytes: Option<u64>,
    /// Prefix each line with its RFC 3339 timestamp and a space (`--timestamps`).
    pub timestamps: bool,
}

/// Renders records as `kubectl logs` prints them.
#[derive(Debug)]
struct Renderer {
    since: Option<Timestamp>,
    timestamps: bool,
    remaining: Option<u64>,
    at_line_start: bool,
}

impl Renderer {
    fn new(opts: &ReadOptions) -> Self {
        Renderer {
            since: opts.since,
            timestamps: opts.timestamps,
            remaining: opts.limit_bytes,
            at_line_start: true,
        }
    }

    /// Appends `line` (one file line) to `out`. Returns false once the byte limit is reached.
    fn push(&mut self, line: &[u8], out: &mut Vec<u8>) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        let Some(rec) = parse_record(line) else {
            return true; // a torn or foreign line: skip it
        };
        if self.since.is_some_and(|since| rec.time < since) {
            return true;
        }
        let start = out.len();
        if self.timestamps && self.at_line_start {
            out.extend_from_slice(rec.time_text.as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(rec.content);
        if rec.full {
            out.push(b'\n');
        }
        self.at_line_start = rec.full;
        if let Some(remaining) = &mut self.remaining {
            let written = (out.len() - start) as u64;
            if written >= *remaining {
                out.truncate(start + *remaining as usize);
                *remaining = 0;
                return false;
            }
            *remaining -= written;
        }
        true
    }
}

/// Opens a log file for reading with `opts`. The result yields exactly what `kubectl logs`
/// prints (without `--follow`; see [`follow`]).
pub fn read(path: &Path, opts: &ReadOptions) -> io::Result<LogReader> {
    let mut file = File::open(path)?;
    let offset = match opts.tail_lines {
        Some(n) => tail_offset(&mut file, n)?,
        None => 0,
    };
    file.seek(SeekFrom::Start(offset))?;
    Ok(LogReader {
        file: BufReader::with_capacity(64 * 1024, file),
        render: Renderer::new(opts),
        line: Vec::new(),
        out: Vec::new(),
        out_pos: 0,
        done: false,
    })
}

/// The rendered contents of a log file; see [`read`].
#[derive(Debug)]
pub struct LogReader {
    file: BufReader<File>,
    render: Renderer,
    line: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    done: bool,
}

impl Read for LogReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.out_pos = 0;
            // Render a batch of lines at a time.
            while self.out.len() < 32 * 1024 {
                self.line.clear();
                if self.file.read_until(b'\n', &mut self.line)? == 0 {
                    self.done = true;
                    break;
                }
                if !self.render.push(&self.line, &mut self.out) {
                    self.done = true;
                    break;
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// The offset where the last `n` lines of `file` begin.
fn tail_offset(file: &mut File, n: u64) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    let mut count = 0u64;
    let mut first = true;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        let mut i = chunk.len();
        // The file's final newline ends the last line; it does not start one.
        if first {
            first = false;
            if chunk.last() == Some(&b'\n') {
                i -= 1;
            }
        }
        while let Some(p) = chunk[..i].iter().rposition(|&b| b == b'\n') {
            count += 1;
            if count == n {
                return Ok(start + p as u64 + 1);
            }
            i = p;
        }
        end = start;
    }
    Ok(0)
}

/// Follows a log file (`kubectl logs -f`): yields what is there (honouring `opts`), then new
/// records as they are written, and ends once `exited` has completed and everything written
/// before it has been yielded. `exited` should complete when the container has exited (e.g.
/// `async move { let _ = runtime.wait(&handle).await; }`): the shim writes the last records
/// before it records the exit. Dropping the stream stops following; it spawns no task.
pub fn follow(
    path: impl Into<PathBuf>,
    opts: &ReadOptions,
    exited: impl Future<Output = ()> + Send + 'static,
) -> io::Result<impl Stream<Item = io::Result<Vec<u8>>> + Send + 'static> {
    let path = path.into();
    let mut file = File::open(&path)?;
    let offset = match opts.tail_lines {
        Some(n) => tail_offset(&mut file, n)?,
        None => 0,
    };
    file.seek(SeekFrom::Start(offset))?;
    let state = Follow {
        file,
        pending: Vec::new(),
        render: Renderer::new(opts),
        exited: Box::pin(exited),
        exit_seen: false,
        finished: false,
    };
    Ok(futures::stream::unfold(state, |mut st| async move {
        st.next().await.map(|item| (item, st))
    }))
}

struct Follow {
    file: File,
    /// Bytes read but not yet rendered (an incomplete last line).
    pending: Vec<u8>,
    render: Renderer,
    exited: Pin<Box<dyn Future<Output = ()> + Send>>,
    exit_seen: bool,
    finished: bool,
}

impl Follow {
    async fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.finished {
                return None;
            }
            let n = match self.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            };
            if n > 0 {
                self.pending.extend_from_slice(&buf[..n]);
                let mut out = Vec::new();
                let mut start = 0;
                while let Some(i) = self.pending[start..].iter().position(|&b| b == b'\n') {
                    let end = start + i + 1;
                    if !self.render.push(&self.pending[start..end], &mut out) {
                        self.finished = true;
                        break;
                    }
                    start = end;
                }
                self.pending.drain(..start);
                if !out.is_empty() {
                    return Some(Ok(out));
                }
                continue;
            }
            if self.exit_seen {
                // Everything the container wrote is in the file: flush a torn last line.
                self.finished = true;
                let mut out = Vec::new();
                if !self.pending.is_empty() {
                    let line = std::mem::take(&mut self.pending);
                    self.render.push(&line, &mut out);
                }
                return (!out.is_empty()).then_some(Ok(out));
            }
            tokio::select! {
                () = &mut self.exited => self.exit_seen = true,
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "2025-01-01T00:00:01.000000000Z";
    const T2: &str = "2025-01-01T00:00:02.000000000Z";

    fn split(chunks: &[&[u8]]) -> String {
        let mut s = LineSplitter::new(LogStream::Stdout);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, T1, &mut out);
        }
        s.finish(T1, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn splitter_records() {
        assert_eq!(
            split(&[b"a\nb", b"c\n", b"tail"]),
            format!("{T1} stdout F a\n{T1} stdout F bc\n{T1} stdout F tail\n")
        );
        let long = vec![b'x'; MAX_RECORD + 3];
        let text = split(&[&long, b"\n"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(&format!("{T1} stdout P xxx")));
        assert_eq!(lines[1], format!("{T1} stdout F xxx"));
    }

    #[test]
    fn parse_and_format() {
        let rec = parse_record(format!("{T2} stderr P hi there\n").as_bytes())
            .map(|r| (r.time, r.stream, r.full, r.content.to_vec()));
        assert_eq!(
            rec,
            Some((
                T2.parse().unwrap(),
                LogStream::Stderr,
                false,
                b"hi there".to_vec()
            ))
        );
        assert_eq!(parse_record(b"garbage"), None);
        assert_eq!(parse_record(format!("{T2} stdout X y").as_bytes()), None);
        assert_eq!(format_time(T1.parse().unwrap()), T1);
    }

    fn file_with(lines: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), lines).unwrap();
        f
    }

    fn read_all(path: &Path, opts: &ReadOptions) -> String {
        let mut s = String::new();
        read(path, opts).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn reading_with_options() {
        let f = file_with(&format!(
            "{T1} stdout F one\n{T1} stderr P tw\n{T2} stderr F o\n{T2} stdout F three\n"
        ));
        let p = f.path();
        assert_eq!(read_all(p, &ReadOptions::default()), "one\ntwo\nthree\n");
        let tail = |n| ReadOptions {
            tail_lines: Some(n),
            ..Default::default()
        };
        assert_eq!(read_all(p, &tail(1)), "three\n");
        assert_eq!(read_all(p, &tail(0)), "");
        assert_eq!(read_all(p, &tail(10)), "one\ntwo\nthree\n");
        let since = ReadOptions {
            since: Some(T2.parse().unwrap()),
            ..Default::default()
        };
        assert_eq!(read_all(p, &since), "o\nthree\n");
        let ts = ReadOptions {
            timestamps: true,
            ..Default::default()
        };
        assert_eq!(
            read_all(p, &ts),
            format!("{T1} one\n{T1} two\n{T2} three\n")
        );
        let limit = ReadOptions {
            limit_bytes: Some(6),
            ..Default::default()
        };
        assert_eq!(read_all(p, &limit), "one\ntw");
    }

    #[test]
    fn torn_lines_are_skipped() {
        let f = file_with(&format!("{T1} stdout F one\n2025-01-01T00:0"));
        assert_eq!(read_all(f.path(), &ReadOptions::default()), "one\n");
        let empty = file_with("");
        let tail = ReadOptions {
            tail_lines: Some(3),
            ..Default::default()
        };
        assert_eq!(read_all(empty.path(), &tail), "");
    }

    #[tokio::test]
    async fn follow_ends_after_exit() {
        use futures::StreamExt;
        let f = file_with(&format!("{T1} stdout F one\n"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stream = follow(f.path(), &ReadOptions::default(), async move {
            let _ = rx.await;
        })
        .unwrap();
        let mut stream = Box::pin(stream);
        assert_eq!(stream.next().await.unwrap().unwrap(), b"one\n");
        {
            use std::io::Write;
            let mut w = std::fs::OpenOptions::new()
                .append(true)
                .open(f.path())
                .unwrap();
            write!(w, "{T2} stdout F two\n{T2} stdout F thr").unwrap();
        }
        assert_eq!(stream.next().await.unwrap().unwrap(), b"two\n");
        tx.send(()).unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), b"thr\n");
        assert!(stream.next().await.is_none());
    }
}
