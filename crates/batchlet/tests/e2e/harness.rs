//! Starting the server binary and running kubectl against it, and the helpers the tests
//! share: waiting for a condition, writing manifests, reading Jobs, pods and Events, and
//! finding the host processes of a pod.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long to wait for the server to announce itself.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The examples directory of the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The kubectl to use, or None (after printing why) when the test should be skipped.
pub fn kubectl_available() -> bool {
    if nested() {
        return false;
    }
    let found = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("BATCHLET_REQUIRE_KUBECTL").as_deref() == Ok("1") {
            panic!("kubectl is required (BATCHLET_REQUIRE_KUBECTL=1) but was not found on PATH");
        }
        eprintln!(
            "SKIPPED: kubectl not found on PATH; set BATCHLET_REQUIRE_KUBECTL=1 to fail instead"
        );
    }
    found
}

/// A running `batchlet server` with its own data dir.
pub struct Server {
    child: Option<Child>,
    /// Data directory (kept across restarts).
    pub dir: tempfile::TempDir,
    /// Admin kubeconfig.
    pub kubeconfig: PathBuf,
    cache: tempfile::TempDir,
    /// Server flags beyond the defaults (kept across restarts).
    extra: Vec<String>,
    /// Holds `server.log`, the servers' standard error (printed when a command fails).
    logs: tempfile::TempDir,
}

/// The server's log level in tests: `BATCHLET_TEST_LOG`, else warnings.
fn log_level() -> String {
    std::env::var("BATCHLET_TEST_LOG").unwrap_or_else(|_| "warn".to_owned())
}

/// Starts `batchlet server`; its log is appended to `log` (kept across restarts).
fn spawn(dir: &Path, listen: &str, extra: &[String], log: &Path) -> (Child, PathBuf) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("server log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args(["server", "--listen", listen, "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("BATCHLET_LOG", log_level())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("spawn batchlet server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(p) = line.strip_prefix("export KUBECONFIG=") {
                let _ = tx.send(PathBuf::from(p));
            }
        }
    });
    let kubeconfig = rx
        .recv_timeout(START_TIMEOUT)
        .expect("server did not print its export KUBECONFIG line");
    (child, kubeconfig)
}

impl Server {
    /// Starts a server on a free port in a new data dir.
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    /// Starts a server on a free port in a new data dir, with `extra` server flags.
    pub fn start_with(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
        let logs = tempfile::tempdir().expect("log dir");
        let (child, kubeconfig) = spawn(
            dir.path(),
            "127.0.0.1:0",
            &extra,
            &logs.path().join("server.log"),
        );
        Server {
            child: Some(child),
            dir,
            kubeconfig,
            cache: tempfile::tempdir().expect("cache dir"),
            extra,
            logs,
        }
    }

    /// SIGKILLs the server (no shutdown path runs).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server with SIGTERM and returns its exit status. A server still running 120 s
    /// later is killed and the test fails (a stop that hangs must not hang the suite).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let asked = std::time::Instant::now();
        loop {
            if let Some(status) = c.try_wait().expect("wait") {
                return status;
            }
            if asked.elapsed() > Duration::from_secs(120) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("the server did not stop within 120 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same data dir.
    pub fn restart(&mut self) {
        self.kill();
        let (child, kubeconfig) = spawn(
            self.dir.path(),
            "127.0.0.1:0",
            &self.extra,
            &self.log_path(),
        );
        self.child = Some(child);
        self.kubeconfig = kubeconfig;
        self.cache = tempfile::tempdir().expect("cache dir");
    }

    /// A kubectl command against this server, with a fresh discovery cache.
    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache.path())
            .args(args)
            .env_remove("KUBECONFIG")
            .current_dir(examples());
        c
    }

    /// Runs kubectl and returns its output.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        let out = self.kubectl_cmd(args).output().expect("run kubectl");
        Run::from(out)
    }

    /// Runs kubectl with `stdin` as standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .kubectl_cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl");
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(&data);
        });
        let out = child.wait_with_output().expect("kubectl output");
        let _ = writer.join();
        Run::from(out)
    }

    /// Runs kubectl and asserts it succeeded; returns stdout. On failure the panic message
    /// holds what the server knows (see [`Server::diagnostics`]).
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.kubectl(args);
        assert!(
            r.success,
            "kubectl {args:?} failed:\nstdout: {}\nstderr: {}\n{}",
            r.stdout,
            r.stderr,
            self.diagnostics()
        );
        r.stdout
    }

    fn log_path(&self) -> PathBuf {
        self.logs.path().join("server.log")
    }

    /// What a failed test should show: the Jobs, CronJobs and pods with their states, the
    /// last Events, and the tail of the server's log (`BATCHLET_TEST_LOG` sets its level).
    pub fn diagnostics(&self) -> String {
        let mut out = String::from("---- server state ----\n");
        for args in [
            &["get", "jobs,cronjobs", "-A", "-o", "wide"][..],
            &["get", "pods", "-A", "-o", "wide"],
            &["get", "events", "-A", "--sort-by=.lastTimestamp"],
        ] {
            let r = self.kubectl(args);
            let text = if r.success { r.stdout } else { r.stderr };
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            out.push_str(&format!(
                "$ kubectl {}\n{}\n",
                args.join(" "),
                tail.join("\n")
            ));
        }
        let r = self.kubectl(&["get", "jobs", "-A", "-o", "jsonpath={.items[*].status}"]);
        out.push_str(&format!("job status: {}\n", r.stdout));
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(80)..];
        out.push_str(&format!(
            "---- server log ({} lines, last {}) ----\n{}\n",
            lines.len(),
            tail.len(),
            tail.join("\n")
        ));
        out
    }

    /// The server's URL and token, from the kubeconfig.
    pub fn url_and_token(&self) -> (String, String) {
        let text = std::fs::read_to_string(&self.kubeconfig).expect("kubeconfig");
        let find = |k: &str| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix(k).map(|v| v.trim().to_owned()))
                .expect("kubeconfig field")
        };
        (find("server:"), find("token:"))
    }

    /// The CA file, written next to the kubeconfig, for curl.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("pki/ca.crt")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        kill_containers(self.dir.path());
    }
}

/// Kills the containers a server under `dir` left running (they outlive the server by design:
/// each runs under a shim in its own session). Finds the shims by their state path and kills
/// every process of their sessions.
fn kill_containers(dir: &Path) {
    let marker = dir.join("containers");
    let marker = marker.to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let pids: Vec<i32> = procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let session = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name: state ppid pgrp session ...
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .nth(3)?
            .parse()
            .ok()
    };
    let shims: Vec<i32> = pids
        .iter()
        .copied()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
        })
        .collect();
    for pid in &pids {
        if session(*pid).is_some_and(|sid| shims.contains(&sid)) {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// The result of one kubectl run.
#[derive(Debug)]
pub struct Run {
    /// Exit status was zero.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            success: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Splits a table printed by kubectl into rows of whitespace-separated cells.
pub fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

/// Reads lines from `child`'s stdout until `pred` holds for one, or the timeout passes.
pub fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Option<String> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(std::time::Instant::now())?;
        match rx.recv_timeout(left) {
            Ok(line) if pred(&line) => return Some(line),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// Streams a child's stdout lines into a channel.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Set by the README test when it runs the README's `cargo test --workspace` in a clone: the
/// end-to-end tests were just run by the outer test run, so the nested one skips them (it
/// checks that a clean clone builds and passes its unit tests) and cannot recurse.
pub const NESTED_ENV: &str = "BATCHLET_E2E_NESTED";

/// True (after printing why) when this is the README test's nested run.
pub fn nested() -> bool {
    let nested = std::env::var_os(NESTED_ENV).is_some();
    if nested {
        eprintln!("SKIPPED: nested run of the README's test command ({NESTED_ENV} is set)");
    }
    nested
}

/// The result of one `batchlet` command.
#[derive(Debug)]
pub struct Exit {
    /// The exit status (None: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// How long [`batchlet`] lets a command run before it interrupts it: a hang becomes a
/// failure that shows what the command printed (never a performance threshold).
pub const COMMAND_PATIENCE: Duration = Duration::from_secs(300);

/// Runs `batchlet ARGS` in the examples directory and waits for it (at most
/// [`COMMAND_PATIENCE`]: then it is sent SIGINT, SIGKILL 15 s later, and its exit says so).
pub fn batchlet(args: &[&str]) -> Exit {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args(args)
        .current_dir(examples())
        .env("BATCHLET_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run batchlet");
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("stderr")));
    let started = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for batchlet") {
            break status;
        }
        if started.elapsed() > COMMAND_PATIENCE && !timed_out {
            timed_out = true;
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
        }
        if started.elapsed() > COMMAND_PATIENCE + Duration::from_secs(15) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = stderr.join().expect("stderr reader");
    if timed_out {
        stderr.push_str(&format!(
            "\n(e2e harness: batchlet {args:?} still ran after {COMMAND_PATIENCE:?}; interrupted)"
        ));
    }
    Exit {
        code: if timed_out { None } else { status.code() },
        stdout: stdout.join().expect("stdout reader"),
        stderr,
    }
}

/// How long `eventually` waits: it turns a hang into a failure and is never a performance
/// threshold (the controllers react in milliseconds; a loaded CI machine may not).
pub const PATIENCE: Duration = Duration::from_secs(90);

/// Polls `f` until it holds; fails the test after [`PATIENCE`].
pub fn eventually(what: &str, f: impl FnMut() -> bool) {
    eventually_within(PATIENCE, what, f)
}

/// Polls `f` until it holds; fails the test after `patience`.
pub fn eventually_within(patience: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `kubectl apply -f -` of a YAML or JSON manifest; asserts success.
pub fn apply(s: &Server, manifest: &str) -> Run {
    let r = s.kubectl_stdin(&["apply", "-f", "-"], manifest.as_bytes());
    assert!(r.success, "{r:?}");
    r
}

/// `kubectl create -f -` of an object; asserts success.
pub fn create(s: &Server, obj: &Value) -> Run {
    let r = s.kubectl_stdin(&["create", "-f", "-"], obj.to_string().as_bytes());
    assert!(r.success, "{r:?}");
    r
}

/// The items of `kubectl get WHAT -o json` (in the default namespace).
pub fn list(s: &Server, what: &str) -> Vec<Value> {
    let out = s.ok(&["get", what, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    v["items"].as_array().cloned().unwrap_or_default()
}

/// One pod of a Job as the API shows it.
#[derive(Debug, Clone)]
pub struct PodView {
    /// metadata.name.
    pub name: String,
    /// status.phase.
    pub phase: String,
    /// metadata.deletionTimestamp is set.
    pub deleting: bool,
}

/// The pods of Job `job` (by the `batch.kubernetes.io/job-name` label).
pub fn pods(s: &Server, job: &str) -> Vec<PodView> {
    let out = s.ok(&[
        "get",
        "pods",
        "-l",
        &format!("batch.kubernetes.io/job-name={job}"),
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}|{.status.phase}|{.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut f = l.split('|');
            PodView {
                name: f.next().unwrap_or_default().to_owned(),
                phase: f.next().unwrap_or_default().to_owned(),
                deleting: !f.next().unwrap_or_default().is_empty(),
            }
        })
        .collect()
}

/// The names of Job `job`'s pods that are neither finished nor being deleted.
pub fn active(s: &Server, job: &str) -> Vec<String> {
    pods(s, job)
        .into_iter()
        .filter(|p| !p.deleting && p.phase != "Succeeded" && p.phase != "Failed")
        .map(|p| p.name)
        .collect()
}

/// A JSONPath `path` (with its braces) of Job `job`.
pub fn job_field(s: &Server, job: &str, path: &str) -> String {
    s.ok(&["get", "job", job, "-o", &format!("jsonpath={path}")])
}

/// `status/reason` of the Job's condition `type_` (`/` when it has none).
pub fn condition(s: &Server, job: &str, type_: &str) -> String {
    job_field(
        s,
        job,
        &format!(
            "{{.status.conditions[?(@.type==\"{type_}\")].status}}/{{.status.conditions[?(@.type==\"{type_}\")].reason}}"
        ),
    )
}

/// `(reason, message)` of the Events about the object named `name`.
pub fn events_of(s: &Server, name: &str) -> Vec<(String, String)> {
    list(s, "events")
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or("").to_owned(),
                e["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The variable that marks the host processes of one test's pods (see [`marked_env`]).
pub const MARK: &str = "E2E_MARK";

/// `env` entries for a pod's container that let a test find its host processes:
/// `E2E_MARK` (unique to the server `s`), `E2E_POD` (the pod's name) and `E2E_JOB` (its
/// `batch.kubernetes.io/job-name` label), the last two through the downward API.
pub fn marked_env(s: &Server) -> Value {
    serde_json::json!([
        {"name": MARK, "value": s.dir.path().to_string_lossy()},
        {"name": "E2E_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "E2E_JOB", "valueFrom": {"fieldRef":
            {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}}},
    ])
}

/// A live host process (zombies excluded) of a pod.
#[derive(Debug, Clone)]
pub struct HostProcess {
    /// Its arguments, joined by spaces.
    pub cmdline: String,
    /// Its environment.
    pub env: std::collections::BTreeMap<String, String>,
}

/// The live host processes of the pods of server `s` whose containers have
/// [`marked_env`] (a container's processes inherit its `env`; the shims do not have it).
pub fn marked_processes(s: &Server) -> Vec<HostProcess> {
    let want = s.dir.path().to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let split = |bytes: Vec<u8>| -> Vec<String> {
        bytes
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    };
    procs
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let env = split(std::fs::read(format!("/proc/{pid}/environ")).ok()?);
            let env: std::collections::BTreeMap<String, String> = env
                .iter()
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if env.get(MARK) != Some(&want) {
                return None;
            }
            // A zombie has an empty cmdline: it is gone but for its exit status.
            let cmd = split(std::fs::read(format!("/proc/{pid}/cmdline")).ok()?);
            (!cmd.is_empty()).then(|| HostProcess {
                cmdline: cmd.join(" "),
                env,
            })
        })
        .collect()
}
