//! `batchlet run FILE`: runs the Jobs of a manifest file (and one run of each CronJob) to
//! completion in this process, with no listener, TLS or kubeconfig: a store in a temporary
//! data dir, the whole composition, the documents created through the in-process API (so
//! admission answers exactly as the server does), live progress, the pods' logs and a summary.
//! Exit status: 0 every Job completed, 1 one failed, 2 invalid manifest, 124 timeout.

mod manifest;
mod report;

use anyhow::{Context, Result};
use apiserver::AppState;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use manifest::Doc;
use runtime::ContainerRuntime;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Every Job completed.
pub const EXIT_COMPLETE: u8 = 0;
/// A Job failed.
pub const EXIT_FAILED: u8 = 1;
/// The file is not a valid manifest (or the API refused a document).
pub const EXIT_INVALID: u8 = 2;
/// `--timeout` passed first (as GNU `timeout` exits).
pub const EXIT_TIMEOUT: u8 = 124;
/// Interrupted by SIGINT or SIGTERM.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Options of `batchlet run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest: YAML or JSON, several documents separated by `---` (`-` reads standard
    /// input); its Jobs run together, its other objects (claims, namespaces) are created first.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Run each CronJob's jobTemplate once right away, as `kubectl create job --from=cronjob/NAME`
    /// does, instead of waiting for its next scheduled time.
    #[arg(long)]
    now: bool,
    /// The namespace of documents that name none (default: `default`); a document naming
    /// another one is refused, as kubectl refuses it.
    #[arg(long, short = 'n', value_name = "NS")]
    namespace: Option<String>,
    /// Give up after this long (Go duration: 90s, 10m, 1h30m): the pods are killed, the
    /// summary printed, and the exit status is 124.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Keep the store, pod logs and volumes (claims are DIR/volumes/NS/CLAIM) in DIR instead
    /// of a temporary directory removed at the end.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let nanos = api::schedule::go_parse_duration(s)?;
    if nanos <= 0 {
        return Err(format!("the timeout must be positive, not {s}"));
    }
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| format!("the timeout {s} is too long"))
}

/// Runs `batchlet run` and returns its exit status.
pub async fn run(args: Args) -> Result<u8> {
    let label = args.file.display().to_string();
    let text = if args.file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("reading standard input")?
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {label}"))?
    };
    let parsed = manifest::parse(&text).and_then(|docs| {
        docs.into_iter()
            .map(|(i, v)| manifest::resolve(i, v, args.namespace.as_deref()))
            .collect::<Result<Vec<Doc>, _>>()
    });
    let docs = match parsed {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {label}: {e}");
            return Ok(EXIT_INVALID);
        }
    };
    if !docs.iter().any(is_runnable) {
        eprintln!("error: {label}: no Job or CronJob to run");
        return Ok(EXIT_INVALID);
    }

    let temp;
    let dir = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("batchlet-run-")
                .tempdir()
                .context("creating a temporary data dir")?;
            temp.path().to_owned()
        }
    };
    // Signals are watched from here on, by one task: the first SIGINT or SIGTERM ends the
    // run (its pods killed, the report printed); a second one exits at once, whatever the
    // run is waiting for.
    let interrupt = CancellationToken::new();
    let signals = tokio::spawn(watch_signals(interrupt.clone()));
    let (store, registry) = crate::compose::open_store(&dir).await?;
    let shutdown = CancellationToken::new();
    let state = AppState {
        registry,
        shutdown: shutdown.clone(),
        server_address: "127.0.0.1:0".into(),
        token: None,
        pod_logs: None,
        omit_managed_fields: false,
    };
    let parts = crate::compose::compose(state, &dir, crate::server::hostname())?;
    let code = Session {
        label: &label,
        args: &args,
        parts: &parts,
        shutdown: &shutdown,
        interrupt: &interrupt,
        out: Out::new(),
    }
    .run(&docs)
    .await;
    store.close().await;
    signals.abort();
    code
}

fn is_runnable(d: &Doc) -> bool {
    d.info.group == "batch" && matches!(d.info.kind, "Job" | "CronJob")
}

/// One Job to follow to its end.
struct Run {
    /// `job.batch/NAME` (or `cronjob.batch/NAME` until its scheduled Job exists).
    reference: String,
    /// The CronJob whose scheduled Job this run waits for: its UID.
    cronjob_uid: Option<String>,
    /// The Job's UID once known.
    uid: Option<String>,
    job: Option<Job>,
    started: Instant,
    took: Option<Duration>,
    pods: BTreeMap<String, report::PodEnd>,
}

impl Run {
    fn done(&self) -> bool {
        self.job.as_ref().and_then(report::outcome).is_some()
    }
}

enum End {
    Done,
    Timeout,
    Interrupted,
    Invalid,
}

struct Session<'a> {
    label: &'a str,
    args: &'a Args,
    parts: &'a crate::compose::Composition,
    shutdown: &'a CancellationToken,
    /// Cancelled by the first SIGINT or SIGTERM.
    interrupt: &'a CancellationToken,
    out: Out,
}

/// A log line of one container run.
struct LogLine {
    prefix: String,
    text: String,
}

impl Session<'_> {
    async fn run(mut self, docs: &[Doc]) -> Result<u8> {
        let client = self.parts.client.clone();
        // Namespaces first: those of the file, then those its documents name.
        for d in docs.iter().filter(|d| d.info.kind == "Namespace") {
            if let Err(m) = create(&client, d.info, None, &d.object, false).await {
                self.invalid(d, &m);
                return Ok(EXIT_INVALID);
            }
            self.out.line(&format!("{} created", d.reference()));
        }
        let needed: HashSet<&str> = docs.iter().filter_map(|d| d.namespace.as_deref()).collect();
        for ns in needed {
            let info = api::resource::find_kind("", "v1", "Namespace").context("namespaces")?;
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match create(&client, info, None, &obj, false).await {
                Ok(_) => {}
                Err(e) if e.code == 409 => {}
                Err(e) => anyhow::bail!("creating namespace {ns}: {}", e.text()),
            }
        }
        // Admission for every document before anything runs.
        let objects: Vec<&Doc> = docs.iter().filter(|d| d.info.kind != "Namespace").collect();
        for d in &objects {
            if let Err(e) = create(&client, d.info, d.namespace.as_deref(), &d.object, true).await {
                self.invalid(d, &e);
                return Ok(EXIT_INVALID);
            }
        }

        let mut tasks = crate::compose::Tasks::default();
        let loops = crate::compose::Loops {
            cronjob: !self.args.now,
            terminated_pod_gc_threshold: controllers::pod_gc::DEFAULT_THRESHOLD,
        };
        let informers = self.parts.spawn_loops(&mut tasks, self.shutdown, loops);
        // The objects are created once the controllers' caches hold their first lists, as
        // a server is up before its clients write.
        if !informers.ready(Duration::from_secs(60)).await {
            tracing::warn!("the controllers' caches are not filled after 60 s; going on");
        }
        let end = self.follow(&objects).await;
        let (end, runs) = match end {
            Ok(x) => x,
            Err(e) => {
                self.stop(tasks).await;
                return Err(e);
            }
        };
        self.stop(tasks).await;
        Ok(self.report(end, &runs))
    }

    fn invalid(&mut self, d: &Doc, e: &ApiFailure) {
        self.out.clear();
        eprintln!(
            "error: {}: document {} ({}): {}",
            self.label,
            d.index,
            d.reference(),
            e.text()
        );
    }

    /// Creates the objects and follows the Jobs to their end.
    async fn follow(&mut self, objects: &[&Doc]) -> Result<(End, Vec<Run>)> {
        let client = self.parts.client.clone();
        let jobs = watcher(Api::<Job>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .boxed();
        let pods = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut runs = Vec::new();
        for d in objects {
            let created =
                match create(&client, d.info, d.namespace.as_deref(), &d.object, false).await {
                    Ok(o) => o,
                    Err(e) => {
                        self.invalid(d, &e);
                        return Ok((End::Invalid, runs));
                    }
                };
            let name = created["metadata"]["name"].as_str().unwrap_or_default();
            let uid = created["metadata"]["uid"].as_str().unwrap_or_default();
            self.out
                .line(&format!("{} created", manifest::reference(d.info, name)));
            if !is_runnable(d) {
                continue;
            }
            let mut run = Run {
                reference: manifest::reference(d.info, name),
                cronjob_uid: None,
                uid: Some(uid.to_owned()),
                job: None,
                started: Instant::now(),
                took: None,
                pods: BTreeMap::new(),
            };
            if d.info.kind == "CronJob" {
                if self.args.now {
                    let suffix = random_suffix();
                    let job = manifest::job_from_cronjob(
                        &created,
                        &manifest::manual_job_name(name, &suffix),
                    );
                    let info = api::resource::find_kind("batch", "v1", "Job").context("jobs")?;
                    match create(&client, info, d.namespace.as_deref(), &job, false).await {
                        Ok(o) => {
                            let n = o["metadata"]["name"].as_str().unwrap_or_default();
                            run.reference = manifest::reference(info, n);
                            run.uid = o["metadata"]["uid"].as_str().map(str::to_owned);
                            self.out.line(&format!(
                                "{} created (from {})",
                                run.reference,
                                d.reference()
                            ));
                        }
                        Err(e) => {
                            self.invalid(d, &e);
                            return Ok((End::Invalid, runs));
                        }
                    }
                } else {
                    run.cronjob_uid = run.uid.take();
                    self.out.line(&format!(
                        "{}: waiting for its schedule {} (--now runs one Job at once)",
                        run.reference, created["spec"]["schedule"]
                    ));
                }
            }
            runs.push(run);
        }
        let end = self.watch(&mut runs, jobs, pods).await;
        Ok((end, runs))
    }

    async fn watch(
        &mut self,
        runs: &mut [Run],
        mut jobs: futures::stream::BoxStream<'static, Result<watcher::Event<Job>, watcher::Error>>,
        mut pods: futures::stream::BoxStream<'static, Result<watcher::Event<Pod>, watcher::Error>>,
    ) -> End {
        let (tx, mut rx) = mpsc::unbounded_channel::<LogLine>();
        let mut followed: HashSet<String> = HashSet::new();
        let mut seen_pods: HashMap<String, Pod> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let deadline = self.args.timeout.map(|t| tokio::time::Instant::now() + t);
        let started = Instant::now();
        let mut last_progress = String::new();
        let end = loop {
            if runs.iter().all(Run::done) {
                break End::Done;
            }
            tokio::select! {
                ev = jobs.next() => {
                    let Some(Ok(ev)) = ev else { continue };
                    let job = match ev {
                        watcher::Event::Apply(j) | watcher::Event::InitApply(j) => j,
                        _ => continue,
                    };
                    self.job_seen(runs, job, &seen_pods, &tx, &mut followed);
                }
                ev = pods.next() => {
                    let Some(Ok(ev)) = ev else { continue };
                    let pod = match ev {
                        watcher::Event::Apply(p) | watcher::Event::InitApply(p) => p,
                        _ => continue,
                    };
                    self.pod_seen(runs, &pod, &tx, &mut followed);
                    if let Some(uid) = pod.metadata.uid.clone() {
                        seen_pods.insert(uid, pod);
                    }
                }
                Some(l) = rx.recv() => {
                    self.out.line(&format!("{}{}", l.prefix, l.text));
                    continue;
                }
                _ = tick.tick(), if self.out.tty => {}
                () = sleep_until(deadline) => break End::Timeout,
                () = self.interrupt.cancelled() => break End::Interrupted,
            }
            let progress = progress(runs, started, self.out.tty);
            if self.out.tty || progress != last_progress {
                self.out.progress(&progress);
                last_progress = progress;
            }
        };
        // The pods as they are now: the pod watch may lag behind the Job's, and a container
        // that ran between two events it has not delivered yet still gets its logs printed.
        let all = Api::<Pod>::all(self.parts.client.clone());
        let uids: Vec<String> = runs.iter().filter_map(|r| r.uid.clone()).collect();
        for uid in uids {
            let lp = kube::api::ListParams::default()
                .labels(&format!("batch.kubernetes.io/controller-uid={uid}"));
            if let Ok(list) = all.list(&lp).await {
                for pod in &list.items {
                    self.pod_seen(runs, pod, &tx, &mut followed);
                }
            }
        }
        // Stop the loops and the containers left (a failed Job's pods may still terminate),
        // then print what the followers still hold: they end with their containers.
        self.shutdown.cancel();
        self.kill_containers().await;
        drop(tx);
        let drain = async {
            while let Some(l) = rx.recv().await {
                self.out.line(&format!("{}{}", l.prefix, l.text));
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), drain)
            .await
            .is_err()
        {
            self.out
                .line("(some pods' logs were cut short at shutdown)");
        }
        end
    }

    fn job_seen(
        &mut self,
        runs: &mut [Run],
        job: Job,
        seen_pods: &HashMap<String, Pod>,
        tx: &mpsc::UnboundedSender<LogLine>,
        followed: &mut HashSet<String>,
    ) {
        let uid = job.metadata.uid.clone();
        if let Some(run) = runs.iter_mut().find(|r| r.uid.is_some() && r.uid == uid) {
            if run.took.is_none() && report::outcome(&job).is_some() {
                run.took = Some(run.started.elapsed());
            }
            run.job = Some(job);
            return;
        }
        // The first Job a waiting CronJob schedules.
        let owner = job
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        let Some(run) = runs
            .iter_mut()
            .find(|r| r.uid.is_none() && r.cronjob_uid.is_some() && r.cronjob_uid == owner)
        else {
            return;
        };
        let name = job.metadata.name.clone().unwrap_or_default();
        self.out.line(&format!(
            "job.batch/{name} created by {} at its scheduled time",
            run.reference
        ));
        run.reference = format!("job.batch/{name}");
        run.uid = uid;
        run.started = Instant::now();
        run.job = Some(job);
        for pod in seen_pods.values() {
            self.pod_seen(runs, pod, tx, followed);
        }
    }

    /// Records a pod of one of the runs and follows the logs of container runs not followed yet.
    fn pod_seen(
        &mut self,
        runs: &mut [Run],
        pod: &Pod,
        tx: &mpsc::UnboundedSender<LogLine>,
        followed: &mut HashSet<String>,
    ) {
        let owner = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.uid.clone());
        let Some(run) = runs.iter_mut().find(|r| r.uid.is_some() && r.uid == owner) else {
            return;
        };
        let name = pod.metadata.name.clone().unwrap_or_default();
        run.pods.insert(name.clone(), report::pod_end(pod));
        let Ok(value) = serde_json::to_value(pod) else {
            return;
        };
        let st = pod.status.clone().unwrap_or_default();
        for cs in st
            .init_container_statuses
            .iter()
            .flatten()
            .chain(st.container_statuses.iter().flatten())
        {
            let state = cs.state.clone().unwrap_or_default();
            let current = if state.running.is_some() {
                cs.container_id.clone()
            } else {
                state.terminated.and_then(|t| t.container_id)
            };
            let previous = cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .and_then(|t| t.container_id.clone());
            for (id, prev) in [(previous, true), (current, false)] {
                let Some(id) = id.filter(|i| !i.is_empty()) else {
                    continue;
                };
                if !followed.insert(id) {
                    continue;
                }
                let req = agent::logs::LogOptions {
                    previous: prev,
                    follow: true,
                    ..Default::default()
                };
                let Ok(mut stream) = self.parts.agent.open_logs(&value, &cs.name, &req) else {
                    continue;
                };
                let tx = tx.clone();
                let prefix = format!("[pod/{name}/{}] ", cs.name);
                tokio::spawn(async move {
                    let mut pending: Vec<u8> = Vec::new();
                    let send = |bytes: &[u8]| {
                        let _ = tx.send(LogLine {
                            prefix: prefix.clone(),
                            text: String::from_utf8_lossy(bytes).into_owned(),
                        });
                    };
                    while let Some(Ok(chunk)) = stream.next().await {
                        pending.extend_from_slice(&chunk);
                        while let Some(nl) = pending.iter().position(|b| *b == b'\n') {
                            send(&pending[..nl]);
                            pending.drain(..=nl);
                        }
                    }
                    if !pending.is_empty() {
                        send(&pending);
                    }
                });
            }
        }
    }

    /// Kills every container still running under this data dir and waits for the exits.
    async fn kill_containers(&self) {
        let rt = &self.parts.runtime;
        let Ok(handles) = rt.adopt() else { return };
        for h in handles {
            let _ = rt.signal(&h, runtime::Signal::Kill);
            let _ = rt.wait(&h).await;
        }
    }

    async fn stop(&mut self, tasks: crate::compose::Tasks) {
        self.shutdown.cancel();
        tasks.join(crate::server::SHUTDOWN_PATIENCE).await;
        // The agent may have started a container after the first sweep.
        self.kill_containers().await;
    }

    fn report(&mut self, end: End, runs: &[Run]) -> u8 {
        self.out.clear();
        if matches!(end, End::Invalid) {
            return EXIT_INVALID;
        }
        for run in runs {
            match &run.job {
                Some(job) => {
                    let pods: Vec<report::PodEnd> = run.pods.values().cloned().collect();
                    let took = run.took.unwrap_or_else(|| run.started.elapsed());
                    for l in report::summary(&run.reference, job, &pods, took) {
                        self.out.line(&l);
                    }
                }
                None => self.out.line(&format!("{}: no Job ran", run.reference)),
            }
        }
        match end {
            End::Timeout => {
                let t = self.args.timeout.unwrap_or_default();
                eprintln!(
                    "error: timed out after {} waiting for the Jobs of {} to finish",
                    report::human(t),
                    self.label
                );
                EXIT_TIMEOUT
            }
            End::Interrupted => {
                eprintln!("error: interrupted; the pods were killed");
                EXIT_INTERRUPTED
            }
            End::Invalid => EXIT_INVALID,
            End::Done => {
                let failed = runs.iter().any(|r| {
                    matches!(
                        r.job.as_ref().and_then(report::outcome),
                        Some(report::Outcome::Failed { .. })
                    )
                });
                if failed { EXIT_FAILED } else { EXIT_COMPLETE }
            }
        }
    }
}

/// The progress of every run, on one line.
fn progress(runs: &[Run], started: Instant, tty: bool) -> String {
    let parts: Vec<String> = runs
        .iter()
        .map(|r| match &r.job {
            Some(j) => format!("{}: {}", r.reference, report::counts(j)),
            None => format!("{}: waiting", r.reference),
        })
        .collect();
    if tty {
        format!(
            "[{}] {}",
            report::human(started.elapsed()),
            parts.join("; ")
        )
    } else {
        parts.join("; ")
    }
}

/// An API error as kubectl prints it.
#[derive(Debug)]
struct ApiFailure {
    code: u16,
    reason: String,
    message: String,
    /// For `Invalid`: the kind, name and `field: message` causes of the Status details.
    invalid: Option<(String, String, Vec<String>)>,
}

impl ApiFailure {
    /// `Error from server (Reason): message`, or for `Invalid` kubectl's `The Job "x" is
    /// invalid: field: message` built from the details (a `* cause` line each when several).
    fn text(&self) -> String {
        if let Some((kind, name, causes)) = &self.invalid {
            let head = format!("The {kind} {name:?} is invalid");
            return match causes.as_slice() {
                [] => head,
                [one] => format!("{head}: {one}"),
                many => {
                    let lines: Vec<String> = many.iter().map(|c| format!("* {c}")).collect();
                    format!("{head}: \n{}", lines.join("\n"))
                }
            };
        }
        if self.reason.is_empty() {
            self.message.clone()
        } else {
            format!("Error from server ({}): {}", self.reason, self.message)
        }
    }
}

/// Creates `body` through the in-process API with kubectl's strict field validation.
async fn create(
    client: &kube::Client,
    info: &api::resource::ResourceInfo,
    ns: Option<&str>,
    body: &Value,
    dry_run: bool,
) -> Result<Value, ApiFailure> {
    let mut path = if info.group.is_empty() {
        format!("/api/{}", info.version)
    } else {
        format!("/apis/{}/{}", info.group, info.version)
    };
    if let Some(ns) = ns {
        path.push_str(&format!("/namespaces/{ns}"));
    }
    path.push_str(&format!(
        "/{}?fieldManager=batchlet-run&fieldValidation=Strict",
        info.plural
    ));
    if dry_run {
        path.push_str("&dryRun=All");
    }
    let local = |message: String| ApiFailure {
        code: 0,
        reason: String::new(),
        message,
        invalid: None,
    };
    let bytes = serde_json::to_vec(body).map_err(|e| local(e.to_string()))?;
    let req = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .map_err(|e| local(e.to_string()))?;
    match client.request_text(req).await {
        Ok(text) => serde_json::from_str(&text).map_err(|e| local(e.to_string())),
        Err(kube::Error::Api(s)) => Err(ApiFailure {
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
            invalid: s
                .details
                .as_ref()
                .filter(|_| s.reason == "Invalid")
                .map(|d| {
                    let causes = d
                        .causes
                        .iter()
                        .map(|c| format!("{}: {}", c.field, c.message))
                        .collect();
                    (d.kind.clone(), d.name.clone(), causes)
                }),
        }),
        Err(e) => Err(local(e.to_string())),
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    // The apiserver's generateName alphabet: no vowels, no confusable digits.
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Cancels `interrupt` at the first SIGINT or SIGTERM; exits with 130 at the second.
async fn watch_signals(interrupt: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    for seen in 0.. {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if seen > 0 {
            eprintln!("error: interrupted again; exiting without waiting for the pods");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        interrupt.cancel();
    }
}

/// Standard output: log lines and plain progress lines, or one redrawn progress line on a
/// terminal.
struct Out {
    tty: bool,
    progress: String,
}

impl Out {
    fn new() -> Out {
        Out {
            tty: std::io::stdout().is_terminal(),
            progress: String::new(),
        }
    }

    /// Prints a line above the progress line.
    fn line(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        if self.tty {
            let _ = write!(o, "\r\x1b[2K{s}\n{}", self.progress);
        } else {
            let _ = writeln!(o, "{s}");
        }
        let _ = o.flush();
    }

    /// Shows the progress: redrawn in place on a terminal, a plain line otherwise.
    fn progress(&mut self, s: &str) {
        if self.tty {
            self.progress = s.to_owned();
            let mut o = std::io::stdout().lock();
            let _ = write!(o, "\r\x1b[2K{s}");
            let _ = o.flush();
        } else {
            self.line(s);
        }
    }

    /// Removes the progress line.
    fn clear(&mut self) {
        if self.tty && !self.progress.is_empty() {
            self.progress.clear();
            let mut o = std::io::stdout().lock();
            let _ = write!(o, "\r\x1b[2K");
            let _ = o.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_go_durations() {
        assert_eq!(parse_timeout("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_timeout("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(
            parse_timeout("0s"),
            Err("the timeout must be positive, not 0s".into())
        );
        assert_eq!(
            parse_timeout("soon"),
            Err("time: invalid duration \"soon\"".into())
        );
    }

    #[test]
    fn api_failures_print_as_kubectl_does() {
        let f = |reason: &str, causes: &[&str]| ApiFailure {
            code: 400,
            reason: reason.into(),
            message: "m".into(),
            invalid: (reason == "Invalid").then(|| {
                (
                    "Job".to_owned(),
                    "x".to_owned(),
                    causes.iter().map(|c| c.to_string()).collect(),
                )
            }),
        };
        assert_eq!(
            f("BadRequest", &[]).text(),
            "Error from server (BadRequest): m"
        );
        assert_eq!(
            f("Invalid", &["a: b"]).text(),
            "The Job \"x\" is invalid: a: b"
        );
        assert_eq!(
            f("Invalid", &["a: b", "c: d"]).text(),
            "The Job \"x\" is invalid: \n* a: b\n* c: d"
        );
    }
}
