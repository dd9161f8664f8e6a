//! The real runtime against real processes: exit codes, start errors, signals and grace
//! periods, environment, logs, adoption after a "server restart", OOM kills and mounts.
//! Tests that need what this machine may not offer (cgroups, root) print why they skip.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime::logs::{self, ReadOptions};
use runtime::{
    Config, ContainerRuntime, ContainerSpec, Error, ExitReason, Limits, Mount, ProcessRuntime,
    ShimCommand, Signal,
};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn config(&self) -> Config {
        Config {
            state_root: self.dir.path().join("state"),
            shim: ShimCommand::program(env!("CARGO_BIN_EXE_batchlet-shim")),
        }
    }

    fn runtime(&self) -> ProcessRuntime {
        ProcessRuntime::new(self.config()).expect("runtime")
    }

    fn log(&self, id: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{id}.log"))
    }

    fn sh(&self, id: &str, script: &str) -> ContainerSpec {
        let id = unique(id);
        let log = self.log(&id);
        ContainerSpec::new(id, vec!["/bin/sh".into(), "-c".into(), script.into()], log)
    }
}

/// Ids are unique per process because cgroups of parallel tests share one parent.
fn unique(id: &str) -> String {
    format!("{id}-{}", std::process::id())
}

fn read_log(path: &Path, opts: &ReadOptions) -> String {
    let mut text = String::new();
    logs::read(path, opts)
        .expect("open log")
        .read_to_string(&mut text)
        .expect("read log");
    text
}

/// Polls the log until it contains `needle` (fails after a generous bound rather than hang).
async fn wait_for_log(path: &Path, needle: &str) {
    for _ in 0..2000 {
        if path.exists() && read_log(path, &ReadOptions::default()).contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{needle:?} never appeared in {}", path.display());
}

/// Runs `spec` to its exit, which must be a success, and returns its log.
async fn run_to_success(rt: &ProcessRuntime, spec: &ContainerSpec) -> String {
    let exit = rt
        .wait(&rt.start(spec).await.expect("start"))
        .await
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    read_log(&spec.log_path, &ReadOptions::default())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

#[tokio::test]
async fn exit_code_and_log() {
    let env = Env::new();
    let rt = env.runtime();
    let spec = env.sh("exit3", "echo hi; echo oops >&2; exit 3");
    let handle = rt.start(&spec).await.expect("start");
    assert!(handle.pid.is_some());
    assert!(handle.limits_enforced);
    let exit = rt.wait(&handle).await.expect("wait");
    assert_eq!(
        (exit.code, exit.signal, exit.reason),
        (3, None, ExitReason::Exited)
    );
    assert!(exit.started_at.is_some_and(|s| s <= exit.finished_at));
    // wait again, and signal after the exit: both fine.
    assert_eq!(rt.wait(&handle).await.expect("wait again"), exit);
    rt.signal(&handle, Signal::Term).expect("signal after exit");
    let text = read_log(&spec.log_path, &ReadOptions::default());
    assert!(text.contains("hi\n") && text.contains("oops\n"), "{text:?}");

    rt.remove(&handle).expect("remove");
    assert!(!rt.state_path(&handle.id).exists());
    assert!(spec.log_path.exists(), "the log outlives the container");
    assert!(rt.adopt().expect("adopt").is_empty());
    assert!(matches!(
        rt.start(&ContainerSpec::new("", vec!["true".into()], "/tmp/x"))
            .await,
        Err(Error::InvalidSpec(_))
    ));
}

#[tokio::test]
async fn start_errors_are_reported_by_wait() {
    let env = Env::new();
    let rt = env.runtime();

    let id = unique("missing");
    let spec = ContainerSpec::new(&id, vec!["no-such-command-xyz".into()], env.log(&id));
    let handle = rt.start(&spec).await.expect("start");
    assert_eq!(handle.pid, None);
    let exit = rt.wait(&handle).await.expect("wait");
    assert_eq!((exit.reason, exit.code), (ExitReason::StartError, 128));
    assert_eq!(
        exit.message.as_deref(),
        Some("exec: \"no-such-command-xyz\": executable file not found in $PATH")
    );

    let id = unique("missing-abs");
    let spec = ContainerSpec::new(&id, vec!["/no/such/binary".into()], env.log(&id));
    let exit = rt
        .wait(&rt.start(&spec).await.expect("start"))
        .await
        .expect("wait");
    assert_eq!(
        exit.message.as_deref(),
        Some("exec: \"/no/such/binary\": no such file or directory")
    );

    let mut spec = env.sh("missing-wd", "true");
    spec.working_dir = Some("/no/such/dir".into());
    let exit = rt
        .wait(&rt.start(&spec).await.expect("start"))
        .await
        .expect("wait");
    assert_eq!(exit.reason, ExitReason::StartError);
    assert_eq!(
        exit.message.as_deref(),
        Some("cannot change to working directory \"/no/such/dir\": no such file or directory")
    );
    assert!(!Path::new("/no/such/dir").exists());

    let dup = rt.start(&spec).await;
    assert!(matches!(dup, Err(Error::AlreadyExists { .. })), "{dup:?}");
}

#[tokio::test]
async fn environment_and_working_dir() {
    let env = Env::new();
    let rt = env.runtime();
    let wd = env.dir.path().join("work");
    std::fs::create_dir(&wd).expect("mkdir");
    let mut spec = env.sh(
        "env",
        "echo \"FOO=$FOO\"; echo \"PWD=$(pwd)\"; echo \"HOME=${HOME-unset}\"; echo \"PATH=$PATH\"",
    );
    spec.env = vec![("FOO".into(), "bar baz".into())];
    spec.working_dir = Some(wd.clone());
    let text = run_to_success(&rt, &spec).await;
    assert!(text.contains("FOO=bar baz\n"), "{text}");
    assert!(text.contains(&format!("PWD={}\n", wd.display())), "{text}");
    assert!(text.contains("HOME=unset\n"), "nothing inherited: {text}");
    assert!(
        text.contains("PATH=/usr/local/sbin:"),
        "default PATH: {text}"
    );
}

/// A spec larger than the connection's buffer: the server sends what fits before the
/// request and the rest once the shim reads (the environment of a Pod may be large).
#[tokio::test]
async fn spec_larger_than_the_socket_buffer() {
    let env = Env::new();
    let rt = env.runtime();
    let mut spec = env.sh("big", "echo \"${#V0} ${#V7}\"");
    // 8 × 100 KiB: past a Unix socket's default buffer (≈ 208 KiB), within the kernel's
    // limits for one variable (128 KiB) and a whole environment.
    spec.env = (0..8)
        .map(|i| (format!("V{i}"), "x".repeat(100 * 1024)))
        .collect();
    let text = run_to_success(&rt, &spec).await;
    assert!(text.contains("102400 102400\n"), "{text}");
}

#[tokio::test]
async fn hostname_in_uts_namespace() {
    if !is_root() {
        eprintln!("skipped: a UTS namespace without a user namespace needs root");
        return;
    }
    let env = Env::new();
    let rt = env.runtime();
    let mut spec = env.sh("hostname", "cat /proc/sys/kernel/hostname");
    spec.hostname = Some("pod-a".into());
    let exit = rt
        .wait(&rt.start(&spec).await.expect("start"))
        .await
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    assert_eq!(read_log(&spec.log_path, &ReadOptions::default()), "pod-a\n");
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        "pod-a\n"
    );
}

#[tokio::test]
async fn stop_with_grace_period() {
    let env = Env::new();
    let rt = env.runtime();

    // Traps SIGTERM and exits: stop ends it with the trap's exit code.
    let polite = env.sh(
        "polite",
        "trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    );
    let handle = rt.start(&polite).await.expect("start");
    wait_for_log(&polite.log_path, "ready").await;
    let exit = rt
        .stop(&handle, Duration::from_secs(60))
        .await
        .expect("stop");
    assert_eq!((exit.code, exit.signal), (0, None), "{exit:?}");
    assert!(read_log(&polite.log_path, &ReadOptions::default()).contains("got-term"));

    // Ignores SIGTERM: killed once the grace period is over.
    let stubborn = env.sh("stubborn", "trap '' TERM; echo ready; sleep 1000");
    let handle = rt.start(&stubborn).await.expect("start");
    wait_for_log(&stubborn.log_path, "ready").await;
    assert!(matches!(
        rt.remove(&handle),
        Err(Error::StillRunning { .. })
    ));
    let exit = rt
        .stop(&handle, Duration::from_millis(300))
        .await
        .expect("stop");
    assert_eq!((exit.code, exit.signal), (137, Some(9)), "{exit:?}");
    rt.remove(&handle).expect("remove");
}

#[tokio::test]
async fn logs_options_and_follow() {
    let env = Env::new();
    let rt = Arc::new(env.runtime());
    let spec = env.sh(
        "logs",
        "echo one; sleep 0.2; echo two >&2; sleep 0.2; printf three",
    );
    let handle = rt.start(&spec).await.expect("start");
    let exited = {
        let (rt, handle) = (Arc::clone(&rt), handle.clone());
        async move {
            let _ = rt.wait(&handle).await;
        }
    };
    let mut stream =
        Box::pin(logs::follow(&spec.log_path, &ReadOptions::default(), exited).expect("follow"));
    let mut followed = Vec::new();
    while let Some(chunk) = stream.next().await {
        followed.extend(chunk.expect("chunk"));
    }
    assert_eq!(String::from_utf8_lossy(&followed), "one\ntwo\nthree\n");
    assert!(rt.wait(&handle).await.expect("wait").success());

    let path = &spec.log_path;
    let all = read_log(path, &ReadOptions::default());
    assert_eq!(all, "one\ntwo\nthree\n");
    let tail = ReadOptions {
        tail_lines: Some(2),
        ..Default::default()
    };
    assert_eq!(read_log(path, &tail), "two\nthree\n");
    let limit = ReadOptions {
        limit_bytes: Some(5),
        ..Default::default()
    };
    assert_eq!(read_log(path, &limit), "one\nt");
    let stamped = read_log(
        path,
        &ReadOptions {
            timestamps: true,
            ..Default::default()
        },
    );
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 3);
    let (second_time, second_text) = lines[1].split_once(' ').expect("timestamp");
    assert_eq!(second_text, "two");
    let since: jiff::Timestamp = second_time.parse().expect("RFC 3339 timestamp");
    let since_opts = ReadOptions {
        since: Some(since),
        ..Default::default()
    };
    assert_eq!(read_log(path, &since_opts), "two\nthree\n");

    // Following an exited container yields the whole log (honouring --tail) and ends.
    let mut stream = Box::pin(logs::follow(path, &tail, async {}).expect("follow"));
    let mut again = Vec::new();
    while let Some(chunk) = stream.next().await {
        again.extend(chunk.expect("chunk"));
    }
    assert_eq!(String::from_utf8_lossy(&again), "two\nthree\n");
}

#[tokio::test]
async fn adoption_after_server_restart() {
    let env = Env::new();
    let slow = env.sh("slow", "sleep 1; echo done");
    let quick = env.sh("quick", "echo quick; exit 4");
    {
        let rt = env.runtime();
        rt.start(&slow).await.expect("start slow");
        rt.start(&quick).await.expect("start quick");
        // The "server" goes away without waiting: the shims keep running.
    }
    wait_for_log(&quick.log_path, "quick").await;
    let rt = env.runtime();
    let handles = rt.adopt().expect("adopt");
    let ids: Vec<&str> = handles.iter().map(|h| h.id.as_str()).collect();
    let mut expected = vec![quick.id.as_str(), slow.id.as_str()];
    expected.sort();
    assert_eq!(ids, expected);
    for handle in &handles {
        let exit = rt.wait(handle).await.expect("wait");
        if handle.id == slow.id {
            assert!(exit.success(), "{exit:?}");
            assert!(read_log(&slow.log_path, &ReadOptions::default()).contains("done"));
        } else {
            assert_eq!(exit.code, 4);
        }
        rt.remove(handle).expect("remove");
    }
    assert!(rt.adopt().expect("adopt").is_empty());
}

#[tokio::test]
async fn oom_kill_under_memory_limit() {
    let env = Env::new();
    let rt = env.runtime();
    if !rt.cgroup_support().enforces_memory() {
        eprintln!(
            "skipped: no writable memory cgroup here ({:?})",
            rt.cgroup_support()
        );
        return;
    }
    if !Path::new("/usr/bin/perl").exists() {
        eprintln!("skipped: /usr/bin/perl (used to allocate memory) is missing");
        return;
    }
    let id = unique("oom");
    let mut spec = ContainerSpec::new(
        &id,
        vec![
            "/usr/bin/perl".into(),
            "-e".into(),
            "print qq(allocating\\n); $| = 1; my $x = q(x) x (200 << 20); print length $x".into(),
        ],
        env.log(&id),
    );
    spec.limits = Limits {
        memory_bytes: Some(64 << 20),
        cpu_millis: Some(500),
    };
    let handle = rt.start(&spec).await.expect("start");
    assert!(handle.limits_enforced, "{:?}", handle.limits_message);
    let exit = rt.wait(&handle).await.expect("wait");
    assert_eq!(
        (exit.reason, exit.code, exit.signal),
        (ExitReason::OomKilled, 137, Some(9)),
        "{exit:?}"
    );
    assert!(exit.oom_killed());
    rt.remove(&handle).expect("remove");

    // Within the limit, the same program completes.
    let id = unique("no-oom");
    let mut spec = ContainerSpec::new(
        &id,
        vec![
            "/usr/bin/perl".into(),
            "-e".into(),
            "my $x = q(x) x (8 << 20); print length $x".into(),
        ],
        env.log(&id),
    );
    spec.limits.memory_bytes = Some(64 << 20);
    let exit = rt
        .wait(&rt.start(&spec).await.expect("start"))
        .await
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn mounts_visible_inside_only() {
    if !is_root() {
        eprintln!("skipped: mount namespaces are tested as root only on this machine");
        return;
    }
    let env = Env::new();
    let rt = env.runtime();
    let volume = env.dir.path().join("volume");
    std::fs::create_dir(&volume).expect("mkdir");
    std::fs::write(volume.join("hello.txt"), "vol\n").expect("write");
    let secret = env.dir.path().join("secret.txt");
    std::fs::write(&secret, "s3cret\n").expect("write");

    let tag = unique("bt");
    let data = format!("/{tag}-data/sub"); // neither component exists on the host
    let conf = format!("/etc/{tag}.conf"); // parent exists, file does not
    let tmp = format!("/tmp/{tag}-ro"); // a read-only view of the volume
    let script = format!(
        "set -e; cat {data}/hello.txt; echo written > {data}/new.txt; cat {conf}; \
         if (echo x > {tmp}/nope) 2>/dev/null; then echo writable; else echo read-only; fi; \
         test -d /proc/self && echo proc-ok; pwd"
    );
    let mut spec = env.sh("mounts", &script);
    spec.mounts = vec![
        Mount {
            source: volume.clone(),
            target: data.clone().into(),
            read_only: false,
        },
        Mount {
            source: secret.clone(),
            target: conf.clone().into(),
            read_only: true,
        },
        Mount {
            source: volume.clone(),
            target: tmp.clone().into(),
            read_only: true,
        },
    ];
    spec.working_dir = Some(data.clone().into());
    let handle = rt.start(&spec).await.expect("start");
    let exit = rt.wait(&handle).await.expect("wait");
    let text = read_log(&spec.log_path, &ReadOptions::default());
    assert!(exit.success(), "{exit:?}: {text}");
    assert_eq!(
        text,
        format!("vol\ns3cret\nread-only\nproc-ok\n{data}\n"),
        "{text}"
    );
    // Writes through the bind land in the volume; nothing appeared on the host.
    assert_eq!(
        std::fs::read_to_string(volume.join("new.txt")).unwrap_or_default(),
        "written\n"
    );
    for path in [format!("/{tag}-data"), conf, tmp] {
        assert!(!Path::new(&path).exists(), "{path} leaked to the host");
    }
    rt.remove(&handle).expect("remove");

    // A missing source is a start error with a message.
    let mut spec = env.sh("bad-mount", "true");
    spec.mounts = vec![Mount {
        source: "/no/such/volume".into(),
        target: "/data".into(),
        read_only: false,
    }];
    let exit = rt
        .wait(&rt.start(&spec).await.expect("start"))
        .await
        .expect("wait");
    assert_eq!(exit.reason, ExitReason::StartError);
    assert!(
        exit.message
            .as_deref()
            .is_some_and(|m| m.contains("/no/such/volume")),
        "{exit:?}"
    );
}

#[tokio::test]
async fn bench_functions_run() {
    let env = Env::new();
    assert!(runtime::bench::spawn_wait_rate(20, 2) > 0.0);
    let rt = Arc::new(env.runtime());
    let logs = env.dir.path().join("bench-logs");
    let latencies = runtime::bench::runtime_start_to_running(&rt, 5, &logs)
        .await
        .expect("start latencies");
    assert_eq!(latencies.len(), 5);
    let rate = runtime::bench::runtime_completion_rate(Arc::clone(&rt), 10, 2, &logs)
        .await
        .expect("completion rate");
    assert!(rate > 0.0);
    assert!(rt.adopt().expect("adopt").is_empty());
}

/// A container whose supervisor never recorded a state (the server was killed between
/// creating its state file and the shim's first write) is adopted as lost, and waiting for
/// it returns at once instead of failing on a pidfd of pid 0 (which left such a pod
/// Running for ever).
#[tokio::test]
async fn adopting_a_container_that_never_recorded_a_state() {
    let env = Env::new();
    let root = env.config().state_root;
    std::fs::create_dir_all(&root).expect("state root");
    let id = unique("never");
    std::fs::write(root.join(format!("{id}.state")), b"").expect("empty state file");
    let rt = env.runtime();
    let handles = rt.adopt().expect("adopt");
    assert_eq!(handles.len(), 1, "{handles:?}");
    let exit = tokio::time::timeout(Duration::from_secs(60), rt.wait(&handles[0]))
        .await
        .expect("wait returns (hang guard, not a performance threshold)")
        .expect("wait");
    assert_eq!(exit.reason, ExitReason::Lost, "{exit:?}");
    rt.remove(&handles[0]).expect("remove");
}

/// The processes whose command line names `state_root` (the launcher, its spare shims and
/// the shims of running containers), as (pid, parent pid).
fn supervisors(state_root: &Path) -> Vec<(u32, u32)> {
    let marker = state_root.to_string_lossy().into_owned();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            if !String::from_utf8_lossy(&cmd).contains(&marker) {
                return None;
            }
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the command name: state, then the parent pid.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect()
}

/// Polls until no process names `state_root` (a generous bound, not a timing threshold).
async fn no_supervisors_left(state_root: &Path) {
    for _ in 0..600 {
        if supervisors(state_root).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("left behind: {:?}", supervisors(state_root));
}

/// The launcher keeps forked shims waiting for starts: they exit with it when the runtime
/// is dropped, and die with it when it is killed, after which the next start spawns another
/// launcher and still works.
#[tokio::test]
async fn spare_shims_go_with_their_launcher() {
    let env = Env::new();
    let root = env.config().state_root;
    {
        let rt = env.runtime();
        let spec = env.sh("spare-a", "exit 0");
        let handle = rt.start(&spec).await.expect("start");
        assert!(rt.wait(&handle).await.expect("wait").success());
        rt.remove(&handle).expect("remove");
        let me = std::process::id();
        let launcher: Vec<u32> = supervisors(&root)
            .into_iter()
            .filter(|(_, ppid)| *ppid == me)
            .map(|(pid, _)| pid)
            .collect();
        assert_eq!(launcher.len(), 1, "one launcher: {:?}", supervisors(&root));
        let launcher = launcher[0];
        let mut spares = Vec::new();
        for _ in 0..600 {
            spares = supervisors(&root)
                .into_iter()
                .filter(|(_, ppid)| *ppid == launcher)
                .map(|(pid, _)| pid)
                .collect();
            if !spares.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!spares.is_empty(), "the launcher keeps spare shims");
        // Killed: its spares die with it, and the next start needs a new launcher.
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(launcher as i32).expect("pid"),
            rustix::process::Signal::KILL,
        )
        .expect("kill the launcher");
        let running = |pid: &u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().next())
                    .is_some_and(|state| state != "Z" && state != "X")
            })
        };
        for _ in 0..600 {
            if !spares.iter().any(running) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left: Vec<&u32> = spares.iter().filter(|p| running(p)).collect();
        assert!(left.is_empty(), "spares outlived their launcher: {left:?}");
        let spec = env.sh("spare-b", "echo again");
        let handle = rt
            .start(&spec)
            .await
            .expect("start after the launcher died");
        assert!(rt.wait(&handle).await.expect("wait").success());
        assert_eq!(read_log(&spec.log_path, &ReadOptions::default()), "again\n");
        rt.remove(&handle).expect("remove");
    }
    // The runtime is gone: the launcher and its spares exit.
    no_supervisors_left(&root).await;
}
