//! Access control: every route of the discovery documents refuses a request without the
//! token (401); TLS only, unless `--insecure-http`, which warns loudly; private files are
//! 0600; names reach no file path before validation; pod commands run without a shell.

use crate::client::{Api, Conn};
use crate::harness::{Server, kubectl_available};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!("timed out waiting for {what}");
}

/// Every (method, path) the discovery documents describe, with `x` as object name.
async fn routes(c: &mut Conn) -> Vec<(Method, String)> {
    let mut out: Vec<(Method, String)> = ["/api", "/apis", "/openapi/v3"]
        .iter()
        .map(|p| (Method::GET, (*p).to_owned()))
        .collect();
    let mut gvs = Vec::new();
    for v in c.get("/api").await.expect("GET /api").json()["versions"]
        .as_array()
        .expect("versions")
    {
        gvs.push(format!("/api/{}", v.as_str().expect("version")));
    }
    for g in c.get("/apis").await.expect("GET /apis").json()["groups"]
        .as_array()
        .expect("groups")
    {
        for v in g["versions"].as_array().expect("versions") {
            gvs.push(format!("/apis/{}", v["groupVersion"].as_str().expect("gv")));
        }
    }
    for gv in gvs {
        out.push((Method::GET, gv.clone()));
        out.push((Method::GET, format!("/openapi/v3{gv}")));
        let list = c.get(&gv).await.expect("resource list").json();
        for r in list["resources"].as_array().expect("resources") {
            let name = r["name"].as_str().expect("name");
            let namespaced = r["namespaced"].as_bool().expect("namespaced");
            let verbs: Vec<&str> = r["verbs"]
                .as_array()
                .expect("verbs")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let scope = |all: bool| {
                if namespaced && !all {
                    format!("{gv}/namespaces/default")
                } else {
                    gv.clone()
                }
            };
            if let Some((base, sub)) = name.split_once('/') {
                let item = format!("{}/{base}/x/{sub}", scope(false));
                for v in &verbs {
                    let m = match *v {
                        "get" => Method::GET,
                        "create" => Method::POST,
                        "update" => Method::PUT,
                        "patch" => Method::PATCH,
                        _ => continue,
                    };
                    out.push((m, item.clone()));
                }
                continue;
            }
            let coll = format!("{}/{name}", scope(false));
            let item = format!("{coll}/x");
            for v in &verbs {
                match *v {
                    "list" => {
                        out.push((Method::GET, coll.clone()));
                        out.push((Method::GET, format!("{}/{name}", scope(true))));
                    }
                    "watch" => {
                        out.push((Method::GET, format!("{coll}?watch=true")));
                        out.push((Method::GET, format!("{}/{name}?watch=true", scope(true))));
                    }
                    "create" => out.push((Method::POST, coll.clone())),
                    "deletecollection" => out.push((Method::DELETE, coll.clone())),
                    "get" => out.push((Method::GET, item.clone())),
                    "update" => out.push((Method::PUT, item.clone())),
                    "patch" => out.push((Method::PATCH, item.clone())),
                    "delete" => out.push((Method::DELETE, item.clone())),
                    _ => {}
                }
            }
        }
    }
    out
}

#[test]
fn every_discovered_route_requires_the_token() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let api = Api::of(&s);
    rt().block_on(async {
        let mut c = api.connect().await.expect("connect");
        let routes = routes(&mut c).await;
        assert!(routes.len() > 60, "only {} routes discovered", routes.len());
        let mut checked = 0;
        for bad in [None, Some("wrong"), Some(&*"x".repeat(api.token.len()))] {
            let mut c = api.connect().await.expect("connect");
            c.token = bad.map(str::to_owned);
            for (m, path) in &routes {
                let ct = if *m == Method::PATCH {
                    "application/merge-patch+json"
                } else {
                    "application/json"
                };
                let r = c.send(m.clone(), path, ct, "{}").await.expect("request");
                assert_eq!(
                    r.status,
                    StatusCode::UNAUTHORIZED,
                    "{m} {path} with token {bad:?}"
                );
                let st = r.json();
                assert_eq!(
                    (st["kind"].as_str(), st["reason"].as_str()),
                    (Some("Status"), Some("Unauthorized")),
                    "{st}"
                );
                checked += 1;
            }
        }
        // The same reads with the token reach real handlers.
        for (m, path) in routes
            .iter()
            .filter(|(m, p)| *m == Method::GET && !p.contains("watch"))
        {
            let r = c
                .send(m.clone(), path, "application/json", "")
                .await
                .expect("request");
            assert_ne!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{m} {path} with the token"
            );
        }
        // Probes are public, as upstream's system:public-info-viewer.
        let mut anon = api.connect().await.expect("connect");
        anon.token = None;
        for p in ["/version", "/healthz", "/livez", "/readyz"] {
            assert_eq!(anon.get(p).await.expect(p).status, StatusCode::OK, "{p}");
        }
        println!(
            "401 without a valid token on {checked} requests ({} routes x 3 tokens)",
            routes.len()
        );
    });
}

#[test]
fn plain_http_to_the_tls_port_gets_no_answer() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let (url, _) = s.url_and_token();
    assert!(url.starts_with("https://"), "{url}");
    let addr = url.trim_start_matches("https://").trim_end_matches('/');
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    tcp.write_all(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut got = Vec::new();
    let _ = tcp.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/"),
        "plain HTTP got an HTTP answer: {}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn insecure_http_warns_loudly_and_still_requires_the_token() {
    if !kubectl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_batchlet"))
        .args([
            "server",
            "--api-only",
            "--insecure-http",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("BATCHLET_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn batchlet server");
    let stderr = child.stderr.take().expect("stderr");
    let warning = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.contains("WARNING"))
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read");
    assert!(line.starts_with("export KUBECONFIG="), "{line}");
    let kubeconfig = std::fs::read_to_string(dir.path().join("kubeconfig")).expect("kubeconfig");
    let server = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .expect("server")
        .to_owned();
    assert!(server.starts_with("http://"), "{server}");
    let addr = server.trim_start_matches("http://").to_owned();
    let mut tcp = std::net::TcpStream::connect(&addr).expect("connect");
    tcp.write_all(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut got = String::new();
    let _ = tcp.read_to_string(&mut got);
    assert!(got.starts_with("HTTP/1.1 401"), "{got}");
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.join().expect("stderr reader");
    let warning = warning.expect("no WARNING line on stderr for --insecure-http");
    assert!(warning.contains("--insecure-http"), "{warning}");
    println!("{warning}");
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn kubeconfig_pki_and_store_are_private() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let dir = s.dir.path();
    assert_eq!(mode(&dir.join("pki")), 0o700, "pki/");
    let mut files = vec![dir.join("kubeconfig"), dir.join("state.db")];
    for e in std::fs::read_dir(dir.join("pki")).expect("pki") {
        files.push(e.expect("entry").path());
    }
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    println!("0600: {files:?}");
}

fn pod(name: &str, container: &str, volume: &str, sub_path: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{
                "name": container, "image": "busybox", "command": ["true"],
                "volumeMounts": [{"name": volume, "mountPath": "/data", "subPath": sub_path}],
            }],
            "volumes": [{"name": volume, "emptyDir": {}}],
        },
    })
}

#[test]
fn names_with_paths_are_refused_before_they_reach_a_file() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let api = Api::of(&s);
    let before: Vec<_> = std::fs::read_dir(s.dir.path().parent().expect("parent"))
        .expect("ls")
        .filter_map(|e| Some(e.ok()?.file_name()))
        .collect();
    let pods = "/api/v1/namespaces/default/pods";
    let cases = [
        (pod("../escape", "c", "v", "d"), "metadata.name"),
        (pod("/tmp/escape", "c", "v", "d"), "metadata.name"),
        (
            pod("ok1", "../../escape", "v", "d"),
            "spec.containers[0].name",
        ),
        (pod("ok2", "/escape", "v", "d"), "spec.containers[0].name"),
        (pod("ok3", "c", "../escape", "d"), "spec.volumes[0].name"),
        // Upstream's field path for subPath has no index (`fldPath.Child("subPath")`).
        (
            pod("ok4", "c", "v", "../../escape"),
            "spec.containers[0].volumeMounts.subPath",
        ),
        (
            pod("ok5", "c", "v", "/tmp/escape"),
            "spec.containers[0].volumeMounts.subPath",
        ),
    ];
    rt().block_on(async {
        let mut c = api.connect().await.expect("connect");
        for (obj, field) in &cases {
            let r = c.post(pods, obj).await.expect("post");
            let st = r.json();
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{obj}: {st}");
            assert!(
                st["message"].as_str().is_some_and(|m| m.contains(field)),
                "{field}: {st}"
            );
            println!("refused: {}", st["message"]);
        }
        let job = json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "../c", "image": "busybox", "command": ["true"]}]}}},
        });
        let r = c
            .post("/apis/batch/v1/namespaces/default/jobs", &job)
            .await
            .expect("post");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
        // Namespaces in the path: `..`, encoded slashes and absolute names create nothing.
        for ns in ["..", "%2E%2E", "..%2F..%2Ftmp", "%2Ftmp"] {
            let r = c
                .post(
                    &format!("/api/v1/namespaces/{ns}/pods"),
                    &pod("p", "c", "v", "d"),
                )
                .await
                .expect("post");
            assert!(
                !r.status.is_success(),
                "namespace {ns}: {} {:?}",
                r.status,
                r.body
            );
            let r = c
                .get(&format!("/api/v1/namespaces/{ns}/pods/p/log"))
                .await
                .expect("get");
            assert!(
                !r.status.is_success(),
                "log in namespace {ns}: {}",
                r.status
            );
        }
        let r = c
            .post(
                "/api/v1/namespaces",
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "../x"}}),
            )
            .await
            .expect("post");
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json());
        // A container name in the log query is checked against the pod's containers.
        let r = c
            .post(pods, &pod("real", "c", "v", "d"))
            .await
            .expect("post");
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json());
        let r = c
            .get(&format!(
                "{pods}/real/log?container=..%2F..%2F..%2Fetc%2Fpasswd"
            ))
            .await
            .expect("log");
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{:?}",
            r.body
        );
    });
    let after: Vec<_> = std::fs::read_dir(s.dir.path().parent().expect("parent"))
        .expect("ls")
        .filter_map(|e| Some(e.ok()?.file_name()))
        .filter(|n| n.to_string_lossy().contains("escape"))
        .filter(|n| !before.contains(n))
        .collect();
    assert!(
        after.is_empty(),
        "files appeared next to the data dir: {after:?}"
    );
    let inside = walk(s.dir.path());
    assert!(!inside.iter().any(|p| p.contains("escape")), "{inside:?}");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.to_string_lossy().into_owned());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(walk(&p));
            }
        }
    }
    out
}

#[test]
fn pod_commands_run_without_a_shell() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let literal = "$HOME `id` ; echo pwned > /tmp/x | $(NOT_DEFINED) * &&";
    let pods = [
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "literal"},
             "spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["echo", literal]}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "spaced"},
             "spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["echo spaced-out"]}]}}),
    ];
    let manifest = crate::client::documents(&pods);
    let r = s.kubectl_stdin(&["create", "-f", "-"], manifest.as_bytes());
    assert!(r.success, "{}", r.stderr);
    let phase = |p: &str| {
        s.kubectl(&["get", "pod", p, "-o", "jsonpath={.status.phase}"])
            .stdout
    };
    let describe = |p: &str| s.kubectl(&["describe", "pod", p]).stdout;
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually("pod literal to succeed", || phase("literal") == "Succeeded")
    }))
    .is_err()
    {
        panic!("pod literal did not succeed:\n{}", describe("literal"));
    }
    let logs = s.ok(&["logs", "literal"]);
    assert_eq!(
        logs,
        format!("{literal}\n"),
        "the argument reached echo unchanged"
    );
    // A command with a space is one program name, never split by a shell.
    eventually("pod spaced to fail", || phase("spaced") == "Failed");
    let logs = s.kubectl(&["logs", "spaced"]).stdout;
    assert!(!logs.contains("spaced-out"), "{logs}");
}
