//! `batchlet server` children for the benchmarks (plain HTTP on a free loopback port, a
//! temporary data dir), their memory and CPU time, and a small HTTP client: requests,
//! creates, GETs and watch streams with the time each event arrived.

use anyhow::{Context, Result, bail};
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The node name the benchmark servers register.
pub const NODE: &str = "bench-node";

/// A `batchlet server` child process on a free port, plain HTTP, own data dir.
pub struct ServerProcess {
    child: Child,
    /// The API client for this server.
    pub api: Api,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    /// Starts `batchlet server`; `api_only` leaves out controllers, scheduler and agent.
    pub fn start(api_only: bool) -> Result<ServerProcess> {
        Self::start_with(api_only, &[])
    }

    /// Starts `batchlet server` with `extra` arguments.
    pub fn start_with(api_only: bool, extra: &[String]) -> Result<ServerProcess> {
        let dir = tempfile::tempdir().context("tempdir")?;
        let exe = std::env::current_exe().context("current exe")?;
        // A profiler to run the server under (`heaptrack`, `perf record -g --`): the
        // wrapper's words, then the server's command line.
        let wrapper = std::env::var("BATCHLET_BENCH_SERVER_WRAPPER").unwrap_or_default();
        let mut words = wrapper.split_whitespace();
        let mut command = match words.next() {
            Some(program) => {
                let mut c = Command::new(program);
                c.args(words).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        let mut child = command
            .args(["server", "--insecure-http", "--listen", "127.0.0.1:0"])
            .args(["--node-name", NODE, "--data-dir"])
            .arg(dir.path())
            .args(api_only.then_some("--api-only"))
            .args(extra)
            .env("BATCHLET_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting batchlet server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        // The server's first line names its kubeconfig; a wrapper may print before it.
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let mut skipped = 0;
        let path = loop {
            line.clear();
            stdout
                .read_line(&mut line)
                .context("reading the server's first line")?;
            if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
                break path;
            }
            skipped += 1;
            if line.is_empty() || skipped > 20 {
                bail!("unexpected server output: {line:?}");
            }
        };
        let kubeconfig = std::fs::read_to_string(path).context("reading the kubeconfig")?;
        let field = |k: &str| {
            kubeconfig
                .lines()
                .find_map(|l| l.trim().strip_prefix(k).map(|v| v.trim().to_owned()))
                .context("kubeconfig field")
        };
        Ok(ServerProcess {
            api: Api {
                client: Client::builder(TokioExecutor::new()).build_http(),
                base: field("server:")?,
                token: field("token:")?,
            },
            child,
            _dir: dir,
        })
    }

    /// Resident memory of the server process, KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_kib("VmRSS")
    }

    /// A memory field of the server's `/proc/PID/status` (`VmRSS`, `RssAnon`, `RssFile`), KiB.
    pub fn status_kib(&self, field: &str) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| field.to_owned())
    }

    /// Resident memory in MiB split into anonymous (heap, stacks) and file-backed (the
    /// binary's code, shared libraries, any mapped file: page cache, counted while mapped).
    pub fn rss_split_mib(&self) -> (f64, f64) {
        let mib = |f: &str| self.status_kib(f).map_or(f64::NAN, |k| k as f64 / 1024.0);
        (mib("RssAnon"), mib("RssFile"))
    }

    /// Where the resident memory is, from `/proc/PID/smaps`: the binary's own mappings
    /// (code and data), files under the data dir (a store file if mapped), other
    /// files (shared libraries) and anonymous memory (heap, stacks), MiB each. Pages mapped
    /// twice count twice, as in VmRSS.
    pub fn rss_by_mapping(&self) -> String {
        let smaps =
            std::fs::read_to_string(format!("/proc/{}/smaps", self.child.id())).unwrap_or_default();
        let exe = std::fs::read_link(format!("/proc/{}/exe", self.child.id())).unwrap_or_default();
        let dir = self._dir.path().to_string_lossy().into_owned();
        let split = rss_by_mapping(&smaps, &exe.to_string_lossy(), &dir);
        let mib = |k: u64| k as f64 / 1024.0;
        format!(
            "binary {:.1}, store file {:.1}, other files {:.1}, anon {:.1} MiB",
            mib(split[0]),
            mib(split[1]),
            mib(split[2]),
            mib(split[3])
        )
    }

    /// Resident memory in MiB (NaN if it cannot be read).
    pub fn rss_mib(&self) -> f64 {
        self.rss_kib().map_or(f64::NAN, |k| k as f64 / 1024.0)
    }

    /// CPU time (user + system) the server process has used so far.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at the last ')'.
        let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // utime and stime are fields 14 and 15 of stat(5); `rest` starts at field 3.
        let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
        // In clock ticks of USER_HZ, 100 on every Linux architecture batchlet runs on.
        Duration::from_secs_f64(ticks as f64 / 100.0)
    }
}

/// Sums the `Rss:` of each mapping in `smaps` (KiB) as [binary `exe`, files under `dir`,
/// other files, anonymous].
fn rss_by_mapping(smaps: &str, exe: &str, dir: &str) -> [u64; 4] {
    let mut sums = [0u64; 4];
    let mut slot = 3;
    for line in smaps.lines() {
        if let Some(kib) = line.strip_prefix("Rss:") {
            sums[slot] += kib
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        } else if line.split_whitespace().next().is_some_and(|a| {
            a.contains('-') && a.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        }) {
            // A mapping's header: address range, perms, offset, dev, inode, [path].
            let path = line.split_whitespace().nth(5).unwrap_or("");
            slot = match path {
                p if !exe.is_empty() && p == exe => 0,
                p if !dir.is_empty() && p.starts_with(dir) => 1,
                p if p.starts_with('/') => 2,
                _ => 3,
            };
        }
    }
    sums
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client of one server (keep-alive connections, bearer token).
#[derive(Clone)]
pub struct Api {
    client: HttpClient,
    base: String,
    token: String,
}

/// Kubectl's Accept header for `kubectl get`.
pub const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

impl Api {
    /// One request; returns status and body.
    pub async fn request(
        &self,
        method: http::Method,
        path: &str,
        accept: &str,
        content_type: &str,
        body: Option<String>,
    ) -> Result<(http::StatusCode, Bytes)> {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", accept)
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let resp = self.client.request(req).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// POSTs `body` to the collection `path`; fails unless 201 Created.
    pub async fn create(&self, path: &str, body: &Value) -> Result<()> {
        let (status, bytes) = self
            .request(
                http::Method::POST,
                path,
                "application/json",
                "application/json",
                Some(body.to_string()),
            )
            .await?;
        if status != http::StatusCode::CREATED {
            bail!("POST {path}: {status} {}", String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }

    /// GETs `path` as JSON; fails unless 200.
    pub async fn get(&self, path: &str) -> Result<Value> {
        let (status, bytes) = self
            .request(
                http::Method::GET,
                path,
                "application/json",
                "application/json",
                None,
            )
            .await?;
        if status != http::StatusCode::OK {
            bail!("GET {path}: {status} {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Creates the namespace `ns`.
    pub async fn namespace(&self, ns: &str) -> Result<()> {
        self.create(
            "/api/v1/namespaces",
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await
    }

    /// Creates `n` objects `make(i)` in `collection` with `clients` concurrent clients;
    /// returns creates/s.
    pub async fn create_many(
        &self,
        collection: &str,
        n: usize,
        clients: usize,
        make: impl Fn(usize) -> Value + Send + Sync + 'static,
    ) -> Result<f64> {
        let clients = clients.max(1);
        let make = std::sync::Arc::new(make);
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for c in 0..clients {
            let (api, collection, make) = (self.clone(), collection.to_owned(), make.clone());
            tasks.spawn(async move {
                let mut i = c;
                while i < n {
                    api.create(&collection, &make(i)).await?;
                    i += clients;
                }
                Ok::<(), anyhow::Error>(())
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    }

    /// Opens a watch (`path` is a collection with its query, without `watch=1`) and returns
    /// its events (`type`, `object` decoded as `T`: a `Value`, or only the fields a scenario
    /// reads, so that the measuring client takes less of the machine from the server) each
    /// with the instant and wall-clock time it arrived.
    pub async fn watch<T>(&self, path: &str) -> Result<mpsc::UnboundedReceiver<Event<T>>>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        let sep = if path.contains('?') { '&' } else { '?' };
        let req = http::Request::builder()
            .method(http::Method::GET)
            .uri(format!(
                "{}{path}{sep}watch=1&timeoutSeconds=3600",
                self.base
            ))
            .header("authorization", format!("Bearer {}", self.token))
            .header("accept", "application/json")
            .body(Full::new(Bytes::new()))?;
        let resp = self.client.request(req).await?;
        if resp.status() != http::StatusCode::OK {
            bail!("watch {path}: {}", resp.status());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut body = resp.into_body();
        tokio::spawn(async move {
            let mut buf = BytesMut::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let (at, wall) = (Instant::now(), SystemTime::now());
                buf.extend_from_slice(&data);
                while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                    let line = buf.split_to(nl + 1);
                    let Ok(line) = serde_json::from_slice::<Line<T>>(&line) else {
                        continue;
                    };
                    let event = Event {
                        kind: line.kind,
                        object: line.object,
                        at,
                        wall,
                    };
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}

/// One line of a watch: the fields a bench reads (serde skips the others without building
/// them).
#[derive(serde::Deserialize)]
struct Line<T> {
    #[serde(rename = "type")]
    kind: String,
    object: T,
}

/// One watch event and when it arrived.
#[derive(Debug)]
pub struct Event<T = Value> {
    /// ADDED, MODIFIED, DELETED, BOOKMARK or ERROR.
    pub kind: String,
    pub object: T,
    pub at: Instant,
    pub wall: SystemTime,
}

/// A Job of `completions` pods of `/bin/true`, `parallelism` at a time.
pub fn true_job(name: &str, completions: usize, parallelism: usize) -> Value {
    serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name},
        "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "main", "image": "busybox:1.36", "command": ["/bin/true"]}]}}}
    })
}

/// Waits until the Job `path` has `completions` succeeded pods and a Complete condition,
/// polling every `every`; fails if it fails or after `deadline`.
pub async fn wait_complete(
    api: &Api,
    path: &str,
    completions: usize,
    every: Duration,
    deadline: Duration,
) -> Result<Value> {
    let start = Instant::now();
    loop {
        let job = api.get(path).await?;
        let conds = job["status"]["conditions"].as_array().cloned();
        let has = |t: &str| {
            conds
                .iter()
                .flatten()
                .any(|c| c["type"] == t && c["status"] == "True")
        };
        if has("Failed") {
            bail!("{path} failed: {}", job["status"]);
        }
        if has("Complete") && job["status"]["succeeded"].as_u64() == Some(completions as u64) {
            return Ok(job);
        }
        if start.elapsed() > deadline {
            bail!(
                "{path} not complete after {:?}: {}",
                deadline,
                job["status"]
            );
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::rss_by_mapping;

    #[test]
    fn smaps_split_by_mapping() {
        let smaps = "\
55d0a0000000-55d0a1000000 r-xp 00000000 fe:01 123 /usr/bin/batchlet
Size:              16384 kB
Rss:                2000 kB
7f0000000000-7f0040000000 r--s 00000000 fe:01 456 /tmp/d/store.db
Rss:                 300 kB
7f0040000000-7f0040100000 r--s 00000000 fe:01 457 /tmp/d/store.db
Rss:                  20 kB
7f1000000000-7f1000100000 r-xp 00000000 fe:01 789 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 900 kB
7f2000000000-7f2000100000 rw-p 00000000 00:00 0 
Rss:                 512 kB
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                  12 kB
";
        assert_eq!(
            rss_by_mapping(smaps, "/usr/bin/batchlet", "/tmp/d"),
            [2000, 320, 900, 524]
        );
    }
}
