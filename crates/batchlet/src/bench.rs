//! `batchlet bench`: the API benchmarks of the foundation, each against a baseline measured in
//! the same run (medians of several runs). Method and results: BENCHMARKS.md.
//!
//! - `store-fsync`: the store's own rate with one writer awaiting each durable write (the
//!   baseline: one fsync per write), and with 16 concurrent writers (group commit).
//! - `api-create`: durable creates/s of Jobs through the real server binary (HTTP, JSON,
//!   admission, store), 16 concurrent clients, each on its own keep-alive connection.
//! - `list`: LIST of N Jobs as a Table (what `kubectl get jobs` asks for) and as JSON.
//! - `patch`: strategic merge patches/s on a Job with 20 containers (what `kubectl apply` of a
//!   changed manifest sends), against plain updates (PUT) of the same object.
//! - `rss`: resident memory of an idle `batchlet server`, and after the list load.
//!
//! The API scenarios run against `batchlet server --api-only` (no controllers, scheduler or
//! node agent), so that they measure the API; the last two lines repeat the memory figures
//! for the whole server (with every controller caching every Job).

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::io::{BufRead, BufReader};

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Options of `batchlet bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Runs per scenario; the median is reported.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Concurrent API clients for api-create.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Creates per api-create run (and writes per store-fsync run).
    #[arg(long, default_value_t = 2000)]
    writes: usize,
    /// Jobs in the listed namespace.
    #[arg(long, default_value_t = 10_000)]
    list_size: usize,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// A `batchlet server` child process on a free port, plain HTTP.
struct ServerProcess {
    child: Child,
    base: String,
    token: String,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start(api_only: bool) -> Result<ServerProcess> {
        let dir = tempfile::tempdir().context("tempdir")?;
        let exe = std::env::current_exe().context("current exe")?;
        let mut child = Command::new(exe)
            .args([
                "server",
                "--insecure-http",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
            ])
            .arg(dir.path())
            .args(api_only.then_some("--api-only"))
            .env("BATCHLET_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting batchlet server")?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .context("reading the server's first line")?;
        let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") else {
            bail!("unexpected server output: {line:?}");
        };
        let kubeconfig = std::fs::read_to_string(path).context("reading the kubeconfig")?;
        let field = |k: &str| {
            kubeconfig
                .lines()
                .find_map(|l| l.trim().strip_prefix(k).map(|v| v.trim().to_owned()))
                .context("kubeconfig field")
        };
        Ok(ServerProcess {
            base: field("server:")?,
            token: field("token:")?,
            child,
            _dir: dir,
        })
    }

    fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmRSS")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn request(
    client: &HttpClient,
    srv: &ServerProcess,
    method: http::Method,
    path: &str,
    accept: &str,
    body: Option<String>,
) -> Result<(http::StatusCode, Bytes)> {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", srv.base))
        .header("authorization", format!("Bearer {}", srv.token))
        .header("accept", accept)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let resp = client.request(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

fn job(name: &str) -> String {
    serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        // Suspended: the API is measured, not the controllers and pods the Job would start.
        "spec": {"suspend": true, "completions": 4, "parallelism": 2, "backoffLimit": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["sh", "-c", "echo hello"]}]
        }}}
    })
    .to_string()
}

async fn create_namespace(client: &HttpClient, srv: &ServerProcess, ns: &str) -> Result<()> {
    let body =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            .to_string();
    let (status, bytes) = request(
        client,
        srv,
        http::Method::POST,
        "/api/v1/namespaces",
        "application/json",
        Some(body),
    )
    .await?;
    if !status.is_success() {
        bail!(
            "creating namespace {ns}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    Ok(())
}

/// Creates `total` Jobs named `<prefix>-<i>` in `ns` with `clients` concurrent clients; returns creates/s.
async fn create_jobs(
    client: &HttpClient,
    srv: &ServerProcess,
    ns: &str,
    prefix: &str,
    total: usize,
    clients: usize,
) -> Result<f64> {
    let path = format!("/apis/batch/v1/namespaces/{ns}/jobs");
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let (client, path, prefix) = (client.clone(), path.clone(), prefix.to_owned());
        let (base, token) = (srv.base.clone(), srv.token.clone());
        tasks.spawn(async move {
            let mut i = c;
            while i < total {
                let req = http::Request::builder()
                    .method(http::Method::POST)
                    .uri(format!("{base}{path}"))
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(job(&format!("{prefix}-{i}")))))?;
                let resp = client.request(req).await?;
                let status = resp.status();
                let body = resp.into_body().collect().await?.to_bytes();
                if status != http::StatusCode::CREATED {
                    bail!(
                        "create returned {status}: {}",
                        String::from_utf8_lossy(&body)
                    );
                }
                i += clients;
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// A Job with 20 containers, as `kubectl apply` would have created it.
fn wide_job(name: &str) -> serde_json::Value {
    let containers: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            serde_json::json!({"name": format!("c{i}"), "image": "busybox:1.36",
                "command": ["sh", "-c", "echo hello"], "env": [{"name": "N", "value": i.to_string()}]})
        })
        .collect();
    serde_json::json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never", "containers": containers}}}
    })
}

/// Sequential strategic merge patches (a label change plus the container list with
/// `$setElementOrder`, as kubectl apply sends it) and sequential unconditional PUTs with a
/// label change, on the same 20-container Job; ops/s per run.
async fn patch_vs_update(
    client: &HttpClient,
    srv: &ServerProcess,
    runs: usize,
    n: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    create_namespace(client, srv, "bench-patch").await?;
    let path = "/apis/batch/v1/namespaces/bench-patch/jobs/wide";
    let (status, body) = request(
        client,
        srv,
        http::Method::POST,
        "/apis/batch/v1/namespaces/bench-patch/jobs",
        "application/json",
        Some(wide_job("wide").to_string()),
    )
    .await?;
    if status != http::StatusCode::CREATED {
        bail!(
            "creating the 20-container job: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let order: Vec<serde_json::Value> = (0..20)
        .map(|i| serde_json::json!({"name": format!("c{i}")}))
        .collect();
    let (mut smp, mut put) = (Vec::new(), Vec::new());
    let mut counter = 0u64;
    for _ in 0..runs {
        let start = Instant::now();
        for _ in 0..n {
            counter += 1;
            let patch = serde_json::json!({
                "metadata": {"labels": {"rev": counter.to_string()}},
                "spec": {"template": {"spec": {"$setElementOrder/containers": order, "containers": [{"name": "c7", "image": "busybox:1.36"}]}}}
            });
            let req = http::Request::builder()
                .method(http::Method::PATCH)
                .uri(format!("{}{path}", srv.base))
                .header("authorization", format!("Bearer {}", srv.token))
                .header("content-type", "application/strategic-merge-patch+json")
                .body(Full::new(Bytes::from(patch.to_string())))?;
            let resp = client.request(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await?.to_bytes();
            if status != http::StatusCode::OK {
                bail!(
                    "patch returned {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
        smp.push(n as f64 / start.elapsed().as_secs_f64());

        // The client's copy, read once; each PUT is unconditional (no resourceVersion), as
        // Jobs allow, so the loop measures the server's update path alone.
        let (_, current) = request(
            client,
            srv,
            http::Method::GET,
            path,
            "application/json",
            None,
        )
        .await?;
        let mut obj: serde_json::Value = serde_json::from_slice(&current)?;
        if let Some(m) = obj["metadata"].as_object_mut() {
            m.remove("resourceVersion");
        }
        let start = Instant::now();
        for _ in 0..n {
            counter += 1;
            obj["metadata"]["labels"]["rev"] = serde_json::json!(counter.to_string());
            let (status, body) = request(
                client,
                srv,
                http::Method::PUT,
                path,
                "application/json",
                Some(obj.to_string()),
            )
            .await?;
            if status != http::StatusCode::OK {
                bail!(
                    "update returned {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
        put.push(n as f64 / start.elapsed().as_secs_f64());
    }
    Ok((smp, put))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn fmt_runs(v: &[f64], unit: &str) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x:.0}")).collect();
    format!("[{}] {unit}", parts.join(", "))
}

/// Runs every scenario and prints the results.
pub async fn run(args: Args) -> Result<()> {
    let runs = args.runs.max(1);
    println!("batchlet bench: {runs} runs per scenario, median reported");

    // Baseline: the store's own durable write rates.
    let mut single = Vec::new();
    let mut group = Vec::new();
    for _ in 0..runs {
        let dir = tempfile::tempdir()?;
        single.push(store::bench::fsync_single_writer(dir.path(), args.writes.min(2000)).await);
        let dir = tempfile::tempdir()?;
        group.push(
            store::bench::group_commit(dir.path(), args.clients, args.writes / args.clients.max(1))
                .await,
        );
    }
    let single_m = median(single.clone());
    println!(
        "store-fsync  single writer   {:>9.0} writes/s  {}",
        single_m,
        fmt_runs(&single, "writes/s")
    );
    println!(
        "store-fsync  {:>2} writers      {:>9.0} writes/s  {}",
        args.clients,
        median(group.clone()),
        fmt_runs(&group, "writes/s")
    );

    let srv = ServerProcess::start(true)?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = srv.rss_kib()?;
    println!(
        "rss          idle api-only   {:>9.1} MiB",
        idle as f64 / 1024.0
    );

    create_namespace(&client, &srv, "bench").await?;
    let mut creates = Vec::new();
    for run in 0..runs {
        creates.push(
            create_jobs(
                &client,
                &srv,
                "bench",
                &format!("run{run}"),
                args.writes,
                args.clients,
            )
            .await?,
        );
    }
    let creates_m = median(creates.clone());
    println!(
        "api-create   {:>2} clients      {:>9.0} creates/s {}  ratio to single-writer fsync {:.2}",
        args.clients,
        creates_m,
        fmt_runs(&creates, "creates/s"),
        creates_m / single_m
    );

    create_namespace(&client, &srv, "bench-list").await?;
    create_jobs(
        &client,
        &srv,
        "bench-list",
        "job",
        args.list_size,
        args.clients,
    )
    .await?;
    let path = "/apis/batch/v1/namespaces/bench-list/jobs";
    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    for (label, accept) in [("table", table_accept), ("json", "application/json")] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let (status, body) =
                request(&client, &srv, http::Method::GET, path, accept, None).await?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                bail!("list returned {status}");
            }
            size = body.len();
        }
        println!(
            "list         {} jobs as {label:<5} {:>7.1} ms  [{}] ms, {:.1} MiB",
            args.list_size,
            median(times.clone()),
            times
                .iter()
                .map(|t| format!("{t:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            size as f64 / 1048576.0
        );
    }
    let (smp, put) = patch_vs_update(&client, &srv, runs, args.writes.min(500)).await?;
    println!(
        "patch        20 containers   {:>9.0} SMP/s     {}  ratio to PUT ({:.0}/s) {:.2}",
        median(smp.clone()),
        fmt_runs(&smp, "patches/s"),
        median(put.clone()),
        median(smp) / median(put)
    );

    let loaded = srv.rss_kib()?;
    println!(
        "rss          api-only after {} jobs {:>9.1} MiB",
        args.list_size + runs * args.writes,
        loaded as f64 / 1024.0
    );
    drop(srv);

    // The whole server: controllers, scheduler and agent too.
    let full = ServerProcess::start(false)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = full.rss_kib()?;
    println!(
        "rss          idle full server {:>8.1} MiB",
        idle as f64 / 1024.0
    );
    create_namespace(&client, &full, "bench-list").await?;
    create_jobs(
        &client,
        &full,
        "bench-list",
        "job",
        args.list_size,
        args.clients,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = full.rss_kib()?;
    println!(
        "rss          full after {} jobs {:>9.1} MiB",
        args.list_size,
        loaded as f64 / 1024.0
    );
    Ok(())
}
