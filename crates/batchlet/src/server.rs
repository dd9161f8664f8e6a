//! `batchlet server`: opens the store, bootstraps the system namespaces, makes the PKI and
//! kubeconfig, serves the API, runs the controllers, the scheduler and the node agent, and
//! shuts down in order on SIGTERM or SIGINT (stop accepting and end watches, stop the loops
//! while containers keep running, then close the store).

use anyhow::{Context, Result};
use apiserver::{AppState, kubeconfig, tls};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Options of `batchlet server`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the store (state.db), the PKI and the kubeconfig. Default:
    /// $BATCHLET_DATA_DIR, else ~/.local/share/batchlet.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address to serve on; port 0 picks a free port (the kubeconfig names the real one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// The name this machine registers as a Node (default: the hostname).
    #[arg(long, value_name = "NAME")]
    node_name: Option<String>,
    /// Serve the API only: no controllers, scheduler or node agent (like a kube-apiserver
    /// without its controller-manager and kubelet). `batchlet bench` uses it to measure the
    /// API alone.
    #[arg(long)]
    api_only: bool,
    /// Serve plain HTTP instead of HTTPS. The token is still required, but it crosses the
    /// network in clear text: use only on a trusted loopback.
    #[arg(long)]
    insecure_http: bool,
    /// Read requests served at a time; more get 429 with Retry-After (kube-apiserver's flag).
    #[arg(long, value_name = "N", default_value_t = 400)]
    max_requests_inflight: usize,
    /// Writes served at a time; more get 429 with Retry-After (kube-apiserver's flag).
    #[arg(long, value_name = "N", default_value_t = 200)]
    max_mutating_requests_inflight: usize,
    /// Open watches and followed logs at a time; more get 429 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_watches: usize,
    /// Terminated pods (Succeeded or Failed) kept before the pod garbage collector deletes
    /// the oldest; 0 disables it (kube-controller-manager's flag).
    #[arg(long, value_name = "N", default_value_t = controllers::pod_gc::DEFAULT_THRESHOLD)]
    terminated_pod_gc_threshold: usize,
    /// Recent events kept in memory for watches (kube-apiserver's flag; here one window for
    /// every kind): a watch further behind reads the store's history instead.
    #[arg(long, value_name = "N", default_value_t = store::Options::default().watch_buffer)]
    default_watch_cache_size: usize,
}

/// How long the loops get to stop after the shutdown token is cancelled.
pub const SHUTDOWN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

fn data_dir(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = arg {
        return Ok(d);
    }
    if let Some(d) = std::env::var_os("BATCHLET_DATA_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .context("neither --data-dir, BATCHLET_DATA_DIR nor HOME is set")?;
    Ok(PathBuf::from(home).join(".local/share/batchlet"))
}

/// The machine's hostname, lowercased (node names are DNS subdomains).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_lowercase())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

async fn signalled() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    Ok(())
}

/// Runs the server until a signal.
pub async fn run(args: Args) -> Result<()> {
    let dir = data_dir(args.data_dir)?;
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating data dir {}", dir.display()))?;
    let opts = store::Options {
        watch_buffer: args.default_watch_cache_size,
        ..Default::default()
    };
    let (store, registry) = crate::compose::open_store_with(&dir, opts).await?;

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let pki = tls::Pki::load_or_create(&dir.join("pki"), &[addr.ip().to_string()])
        .context("preparing the PKI")?;
    let host = match addr.ip() {
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        ip => ip.to_string(),
    };
    let (url, tls_config, ca) = if args.insecure_http {
        // Loud on purpose: on stderr whatever the log level, and in the log.
        eprintln!(
            "WARNING: --insecure-http: serving plain HTTP on {addr}; the bearer token and every \
             object cross the network in clear text. Use only on a trusted loopback."
        );
        tracing::warn!(
            "--insecure-http: serving plain HTTP; the token crosses the network in clear text"
        );
        (format!("http://{host}:{}", addr.port()), None, None)
    } else {
        let cfg = pki.server_config().context("configuring TLS")?;
        (
            format!("https://{host}:{}", addr.port()),
            Some(cfg),
            Some(pki.ca_pem.as_str()),
        )
    };
    let kubeconfig_path = dir.join("kubeconfig");
    tls::write_private(
        &kubeconfig_path,
        kubeconfig::render(&url, ca, &pki.token).as_bytes(),
    )
    .context("writing the kubeconfig")?;

    let shutdown = CancellationToken::new();
    let state = AppState {
        registry,
        shutdown: shutdown.clone(),
        server_address: format!("{host}:{}", addr.port()),
        token: Some(Arc::from(pki.token.as_str())),
        pod_logs: None,
        omit_managed_fields: false,
    };
    let node_name = args.node_name.unwrap_or_else(hostname);
    let parts = crate::compose::compose(state, &dir, node_name)?;
    // Limits guard the network listener only; the in-process clients are not limited.
    let app = apiserver::limits::layer(
        parts.app.clone(),
        apiserver::limits::Limits {
            max_requests_inflight: args.max_requests_inflight,
            max_mutating_requests_inflight: args.max_mutating_requests_inflight,
            max_watches: args.max_watches,
        },
    );
    tracing::info!(%url, data_dir = %dir.display(), "serving the Kubernetes API");
    println!("export KUBECONFIG={}", kubeconfig_path.display());

    let mut tasks = crate::compose::Tasks::default();
    tasks.spawn(
        "api listener",
        apiserver::serve::serve(listener, app, tls_config, shutdown.clone()),
    );
    if !args.api_only {
        let loops = crate::compose::Loops {
            cronjob: true,
            terminated_pod_gc_threshold: args.terminated_pod_gc_threshold,
        };
        let _informers = parts.spawn_loops(&mut tasks, &shutdown, loops);
    }
    let signal = signalled().await;
    // Shutdown order: stop accepting and end watches, let the controllers finish their
    // current reconcile, then close the store.
    shutdown.cancel();
    tasks.join(SHUTDOWN_PATIENCE).await;
    store.close().await;
    tracing::info!("stopped");
    signal
}
