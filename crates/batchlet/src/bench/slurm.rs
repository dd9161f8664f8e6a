//! The Slurm peer: `slurmctld` and `slurmd` from Debian's slurm-wlm, started as children on
//! 127.0.0.1 with a temporary configuration tuned as Slurm's high-throughput guide says
//! (no accounting, job completion log or job-accounting gathering, error-only logs,
//! `sched_max_job_start`, `partition_job_depth`, `batch_sched_delay`, a short `MinJobAge`),
//! running the same `true` tasks as a job array and as single `sbatch --wrap` jobs.
//! Nothing is installed: where `slurmctld` is absent or does not come up, the peer is skipped
//! with the reason printed.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts the daemons (often not on a user's PATH).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into(), "/sbin".into()])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A single-node Slurm cluster of child processes.
pub struct Slurm {
    ctld: Child,
    slurmd: Child,
    conf: PathBuf,
    dir: tempfile::TempDir,
}

/// The configuration: one node of `cpus` CPUs (`config_overrides` lets slurmd accept more
/// CPUs than the machine has, so that as many tasks run at once as the Job's parallelism).
fn config(dir: &Path, ctld_port: u16, slurmd_port: u16, user: &str, cpus: usize) -> String {
    let d = dir.display();
    format!(
        "ClusterName=bench
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/none
CredType=cred/none
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
SlurmctldDebug=error
SlurmdDebug=error
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerParameters=batch_sched_delay=20,bf_continue,bf_interval=300,bf_min_age_reserve=10800,bf_resolution=600,bf_yield_interval=1000000,partition_job_depth=500,sched_max_job_start=200,sched_min_interval=100000,default_queue_depth=1000,sched_interval=1
MaxJobCount=200000
MaxArraySize=200001
MinJobAge=2
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=bench NodeAddr=127.0.0.1 NodeHostname=localhost CPUs={cpus} State=UNKNOWN
PartitionName=bench Nodes=bench Default=YES MaxTime=INFINITE State=UP
"
    )
}

impl Slurm {
    /// Starts the cluster, or says why it cannot.
    pub fn start(cpus: usize) -> std::result::Result<Slurm, String> {
        let (Some(ctld), Some(slurmd)) = (find("slurmctld"), find("slurmd")) else {
            return Err("slurmctld/slurmd not installed (apt-get install slurm-wlm)".into());
        };
        let fail = |e: anyhow::Error| format!("{e:#}");
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(dir.path().join(sub)).map_err(|e| e.to_string())?;
        }
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .map_err(|e| e.to_string())?;
        let conf = dir.path().join("slurm.conf");
        let text = config(
            dir.path(),
            free_port().map_err(fail)?,
            free_port().map_err(fail)?,
            &user,
            cpus,
        );
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        let spawn = |exe: &Path, args: &[&str]| {
            Command::new(exe)
                .args(args)
                .arg("-f")
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("{}: {e}", exe.display()))
        };
        let ctld = spawn(&ctld, &["-D", "-i"])?;
        let slurmd = match spawn(&slurmd, &["-D", "-N", "bench"]) {
            Ok(c) => c,
            Err(e) => {
                let mut ctld = ctld;
                let _ = ctld.kill();
                let _ = ctld.wait();
                return Err(e);
            }
        };
        let slurm = Slurm {
            ctld,
            slurmd,
            conf,
            dir,
        };
        slurm.wait_idle().map_err(fail)?;
        Ok(slurm)
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf).current_dir(self.dir.path());
        c
    }

    fn wait_idle(&self) -> Result<()> {
        let start = Instant::now();
        loop {
            let out = self
                .command("sinfo")
                .args(["-h", "-N", "-o", "%t"])
                .output();
            if let Ok(o) = &out
                && String::from_utf8_lossy(&o.stdout).trim() == "idle"
            {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(60) {
                let log = std::fs::read_to_string(self.dir.path().join("slurmctld.log"))
                    .unwrap_or_default();
                bail!(
                    "the Slurm node did not become idle within 60 s ({}); slurmctld.log: {}",
                    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                        .unwrap_or_else(|e| e.to_string()),
                    log.lines().last().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until no job is pending, running or completing.
    fn wait_drained(&self, deadline: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let out = self
                .command("squeue")
                .args(["-h", "-t", "PD,R,CG,CF,S", "-o", "%i"])
                .output()
                .context("squeue")?;
            if !out.status.success() {
                bail!("squeue: {}", String::from_utf8_lossy(&out.stderr));
            }
            if out.stdout.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(());
            }
            if start.elapsed() > deadline {
                bail!("Slurm jobs still queued after {deadline:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sbatch(&self, extra: &[&str]) -> Result<()> {
        let out = self
            .command("sbatch")
            .args(["--parsable", "-o", "/dev/null", "-e", "/dev/null"])
            .args(extra)
            .args(["--wrap", "true"])
            .output()
            .context("sbatch")?;
        if !out.status.success() {
            bail!("sbatch: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(())
    }

    /// `n` tasks of `true` as one job array; tasks/s from submission to the queue drained.
    pub fn array(&self, n: usize, deadline: Duration) -> Result<f64> {
        let start = Instant::now();
        self.sbatch(&[&format!("--array=0-{}", n.max(1) - 1)])?;
        self.wait_drained(deadline)?;
        Ok(n as f64 / start.elapsed().as_secs_f64())
    }

    /// `n` single `sbatch --wrap true` jobs, submitted by 2 submitters; jobs/s from the first
    /// submission to the queue drained.
    pub fn singles(&self, n: usize, deadline: Duration) -> Result<f64> {
        let start = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|w| {
                    s.spawn(move || {
                        for _ in (w..n).step_by(2) {
                            self.sbatch(&[])?;
                        }
                        Ok::<(), anyhow::Error>(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().unwrap_or_else(|_| bail!("submitter panicked")))
        })?;
        self.wait_drained(deadline)?;
        Ok(n as f64 / start.elapsed().as_secs_f64())
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        for child in [&mut self.slurmd, &mut self.ctld] {
            // SIGTERM lets the daemons remove their pid files; SIGKILL after a grace period.
            let _ = Command::new("kill")
                .arg(child.id().to_string())
                .stderr(Stdio::null())
                .status();
        }
        for child in [&mut self.slurmd, &mut self.ctld] {
            let start = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
