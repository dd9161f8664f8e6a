//! Bad requests get Kubernetes' errors and change nothing: no token, oversized, malformed and
//! invalid bodies.

use crate::harness::{Server, kubectl_available};
use std::process::Command;

fn list_revision(s: &Server) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&s.ok(&["get", "--raw", "/apis/batch/v1/jobs"])).expect("list");
    v["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned()
}

fn curl(s: &Server, args: &[&str]) -> (String, String) {
    let (url, _) = s.url_and_token();
    let mut c = Command::new("curl");
    c.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(s.ca_file());
    for a in args {
        c.arg(a.replace("{url}", &url));
    }
    let out = c.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), code.to_owned())
}

#[test]
fn requests_without_the_token_get_401() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let r = s.kubectl(&["--token", "wrong", "get", "jobs"]);
    assert!(!r.success);
    // As against a real cluster: discovery's 401 ends in kubectl's "must be logged in".
    assert!(
        r.stderr
            .contains("error: You must be logged in to the server"),
        "{}",
        r.stderr
    );
    for path in [
        "/api",
        "/apis",
        "/api/v1/pods",
        "/apis/batch/v1/namespaces/default/jobs",
        "/openapi/v3",
        "/openapi/v2",
    ] {
        let (body, code) = curl(&s, &[&format!("{{url}}{path}")]);
        assert_eq!(code, "401", "{path}: {body}");
        let status: serde_json::Value = serde_json::from_str(&body).expect("status json");
        assert_eq!(status["reason"], "Unauthorized");
    }
    let (_, token) = s.url_and_token();
    let (_, code) = curl(
        &s,
        &[
            "-H",
            &format!("Authorization: Bearer {token}"),
            "{url}/apis",
        ],
    );
    assert_eq!(code, "200");
}

#[test]
fn bad_bodies_are_refused_and_change_nothing() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    s.ok(&["apply", "-f", "job.yaml"]);
    let before = list_revision(&s);
    let (_, token) = s.url_and_token();
    let auth = format!("Authorization: Bearer {token}");
    let jobs = "{url}/apis/batch/v1/namespaces/default/jobs";

    // 4 MiB body: 413.
    let big = format!(
        "{{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{{\"name\":\"big\",\"annotations\":{{\"a\":\"{}\"}}}}}}",
        "x".repeat(4 * 1024 * 1024)
    );
    let big_file = s.dir.path().join("big.json");
    std::fs::write(&big_file, big).expect("write big");
    let r = s.kubectl(&[
        "create",
        "--raw",
        "/apis/batch/v1/namespaces/default/jobs",
        "-f",
        big_file.to_str().expect("path"),
    ]);
    assert!(!r.success);
    assert!(
        r.stderr
            .contains("Request entity too large: limit is 3145728"),
        "{}",
        r.stderr
    );

    // Malformed JSON and YAML: 400 with a message.
    let (body, code) = curl(
        &s,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            "{\"apiVersion\": ",
            jobs,
        ],
    );
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("json parse error"), "{body}");
    let (body, code) = curl(
        &s,
        &[
            "-H",
            &auth,
            "-H",
            "Content-Type: application/yaml",
            "--data-binary",
            "metadata: [unclosed",
            jobs,
        ],
    );
    assert_eq!(code, "400", "{body}");
    assert!(body.contains("yaml parse error"), "{body}");

    // Invalid name: 422 naming the field.
    let manifest =
        std::fs::read_to_string(crate::harness::examples().join("job.yaml")).expect("job.yaml");
    let r = s.kubectl_stdin(
        &["create", "-f", "-"],
        manifest
            .replace("name: my-busybox-job", "name: Bad_Name")
            .as_bytes(),
    );
    assert!(!r.success);
    assert!(
        r.stderr.contains("The Job \"Bad_Name\" is invalid: "),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("metadata.name: Invalid value: \"Bad_Name\""),
        "{}",
        r.stderr
    );

    assert_eq!(
        list_revision(&s),
        before,
        "a refused request changed the store"
    );
}
