//! Writes as kubectl makes them: apply (created, unchanged, configured), create of an existing
//! object, and the seed's typos refused with the messages a real cluster gives.

use crate::harness::{Server, kubectl_available};

#[test]
fn apply_create_unchanged_configured_and_already_exists() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let out = s.ok(&["apply", "-f", "job.yaml"]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job created");
    let out = s.ok(&["apply", "-f", "job.yaml"]);
    assert_eq!(out.trim(), "job.batch/my-busybox-job unchanged");

    let manifest =
        std::fs::read_to_string(crate::harness::examples().join("job.yaml")).expect("job.yaml");
    let labelled = manifest.replacen(
        "  name: my-busybox-job\n",
        "  name: my-busybox-job\n  labels:\n    team: backup\n",
        1,
    );
    let r = s.kubectl_stdin(&["apply", "-f", "-"], labelled.as_bytes());
    assert!(r.success, "{r:?}");
    assert_eq!(r.stdout.trim(), "job.batch/my-busybox-job configured");
    let labels = s.ok(&[
        "get",
        "job",
        "my-busybox-job",
        "-o",
        "jsonpath={.metadata.labels.team}",
    ]);
    assert_eq!(labels, "backup");

    let r = s.kubectl(&["create", "-f", "job.yaml"]);
    assert!(!r.success);
    assert_eq!(
        r.stderr.trim(),
        "Error from server (AlreadyExists): error when creating \"job.yaml\": jobs.batch \"my-busybox-job\" already exists"
    );
}

#[test]
fn seed_cronjob_typos_get_the_real_errors() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    // As written: strict decoding names the misspelt field.
    let r = s.kubectl(&["apply", "-f", "cronjob.yaml"]);
    assert!(!r.success);
    assert_eq!(
        r.stderr.trim(),
        "Error from server (BadRequest): error when creating \"cronjob.yaml\": CronJob in version \"v1\" cannot be handled as a CronJob: strict decoding error: unknown field \"spec.failedJobHistoryLimit\""
    );
    // With --validate=warn: a warning for the field, then the imagePullPolicy typo is invalid.
    let r = s.kubectl(&["apply", "--validate=warn", "-f", "cronjob.yaml"]);
    assert!(!r.success);
    assert!(
        r.stderr
            .contains("Warning: unknown field \"spec.failedJobHistoryLimit\""),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(
            "The CronJob \"cj-hello\" is invalid: spec.jobTemplate.spec.template.spec.containers[0].imagePullPolicy: Unsupported value: \"IfNotP-resent\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
        ),
        "{}",
        r.stderr
    );
    assert!(
        s.kubectl(&["get", "cronjob", "cj-hello"])
            .stderr
            .contains("NotFound")
    );
    // Both typos fixed: created.
    let out = s.ok(&["apply", "-f", "cronjob-fixed.yaml"]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello created");
    let yaml = s.ok(&["get", "cronjob", "cj-hello", "-o", "yaml"]);
    for want in [
        "failedJobsHistoryLimit: 3",
        "successfulJobsHistoryLimit: 3",
        "concurrencyPolicy: Allow",
        "imagePullPolicy: IfNotPresent",
    ] {
        assert!(yaml.contains(want), "{want} in\n{yaml}");
    }
}

#[test]
fn job_with_restart_policy_always_is_refused() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let r = s.kubectl(&["apply", "-f", "job-restart-always.yaml"]);
    assert!(!r.success);
    assert_eq!(
        r.stderr.trim(),
        "The Job \"restart-always\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
}

#[test]
fn patch_label_and_delete_as_kubectl_does() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    s.ok(&["apply", "-f", "cronjob-fixed.yaml"]);
    let out = s.ok(&[
        "patch",
        "cronjob",
        "cj-hello",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello patched");
    let out = s.ok(&[
        "patch",
        "cronjob",
        "cj-hello",
        "-p",
        r#"{"spec":{"suspend":true}}"#,
    ]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello patched (no change)");
    let out = s.ok(&[
        "patch",
        "cronjob",
        "cj-hello",
        "--type=merge",
        "-p",
        r#"{"spec":{"suspend":false}}"#,
    ]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello patched");
    let out = s.ok(&[
        "patch",
        "cronjob",
        "cj-hello",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/schedule","value":"0 3 * * *"}]"#,
    ]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello patched");
    assert_eq!(
        s.ok(&["get", "cj", "cj-hello", "-o", "jsonpath={.spec.schedule}"]),
        "0 3 * * *"
    );
    let r = s.kubectl(&[
        "patch",
        "cronjob",
        "cj-hello",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/schedule","value":"nope"}]"#,
    ]);
    assert!(!r.success);
    assert!(r.stderr.contains("The request is invalid"), "{}", r.stderr);
    let out = s.ok(&["label", "cronjob", "cj-hello", "tier=nightly"]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello labeled");
    let out = s.ok(&["annotate", "cronjob", "cj-hello", "owner=ops"]);
    assert_eq!(out.trim(), "cronjob.batch/cj-hello annotated");

    s.ok(&["apply", "-f", "job.yaml"]);
    let out = s.ok(&["delete", "job", "my-busybox-job"]);
    assert_eq!(out.trim(), "job.batch \"my-busybox-job\" deleted");
    let out = s.ok(&["delete", "-f", "cronjob-fixed.yaml"]);
    assert_eq!(out.trim(), "cronjob.batch \"cj-hello\" deleted");
    let r = s.kubectl(&["delete", "job", "nope"]);
    assert!(!r.success);
    assert_eq!(
        r.stderr.trim(),
        "Error from server (NotFound): jobs.batch \"nope\" not found"
    );
}

#[test]
fn apply_of_a_changed_manifest_changes_only_what_changed() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let manifest = |extra_env: &str| {
        format!(
            "apiVersion: batch/v1
kind: CronJob
metadata:
  name: two
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: a
            image: busybox
            env:
            - name: A1
              value: one{extra_env}
          - name: b
            image: busybox
            env:
            - name: B1
              value: uno
"
        )
    };
    let r = s.kubectl_stdin(&["apply", "-f", "-"], manifest("").as_bytes());
    assert_eq!(r.stdout.trim(), "cronjob.batch/two created", "{r:?}");
    // Another writer changes a field the manifest does not mention; apply must keep it.
    s.ok(&[
        "patch",
        "cronjob",
        "two",
        "--type=merge",
        "-p",
        r#"{"spec":{"startingDeadlineSeconds":30}}"#,
    ]);
    let r = s.kubectl_stdin(
        &["apply", "-f", "-"],
        manifest("\n            - name: A2\n              value: two").as_bytes(),
    );
    assert_eq!(r.stdout.trim(), "cronjob.batch/two configured", "{r:?}");
    let env = |c: &str| {
        s.ok(&[
            "get",
            "cronjob",
            "two",
            "-o",
            &format!("jsonpath={{.spec.jobTemplate.spec.template.spec.containers[?(@.name==\"{c}\")].env[*].name}}"),
        ])
    };
    assert_eq!(env("a"), "A1 A2");
    assert_eq!(env("b"), "B1");
    assert_eq!(
        s.ok(&[
            "get",
            "cronjob",
            "two",
            "-o",
            "jsonpath={.spec.startingDeadlineSeconds}"
        ]),
        "30"
    );
}

/// A `kind: List` (what `kubectl get -o yaml` prints) is validated by kubectl against
/// `/openapi/v2` before anything is sent: it is created and applied item by item, and a typo
/// in an item gets kubectl's own client-side validation error, as against a real cluster.
#[test]
fn a_list_is_created_and_its_typos_get_kubectls_validation_errors() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let job = |name: &str, extra: &str| {
        format!(
            "- apiVersion: batch/v1
  kind: Job
  metadata:
    name: {name}
  spec:
    suspend: true{extra}
    template:
      spec:
        restartPolicy: Never
        containers:
        - name: c
          image: busybox
          command: [\"true\"]
"
        )
    };
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}{}",
        job("listed-1", ""),
        job("listed-2", "")
    );
    let r = s.kubectl_stdin(&["create", "-f", "-"], list.as_bytes());
    assert!(r.success, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "job.batch/listed-1 created\njob.batch/listed-2 created\n"
    );
    // Created without apply's annotation: the first apply patches it in, as on a cluster.
    let r = s.kubectl_stdin(&["apply", "-f", "-"], list.as_bytes());
    assert!(r.success, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "job.batch/listed-1 configured\njob.batch/listed-2 configured\n"
    );
    assert!(
        r.stderr
            .contains("missing the kubectl.kubernetes.io/last-applied-configuration annotation"),
        "{}",
        r.stderr
    );
    let r = s.kubectl_stdin(&["apply", "-f", "-"], list.as_bytes());
    assert!(r.success, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "job.batch/listed-1 unchanged\njob.batch/listed-2 unchanged\n"
    );

    // A list with one item whose spec has `extra`: refused by kubectl; its stderr.
    let refused = |extra: &str| {
        let list = format!(
            "apiVersion: v1\nkind: List\nitems:\n{}",
            job("listed-3", extra)
        );
        let r = s.kubectl_stdin(&["create", "-f", "-"], list.as_bytes());
        assert!(!r.success, "{}", r.stdout);
        r.stderr
    };
    assert_eq!(
        refused("\n    parallelizm: 2").trim_end(),
        "error: error validating \"STDIN\": error validating data: ValidationError(Job.spec): \
         unknown field \"parallelizm\" in io.k8s.api.batch.v1.JobSpec; if you choose to ignore \
         these errors, turn validation off with --validate=false"
    );
    let stderr = refused("\n    parallelism: two");
    assert!(
        stderr.contains(
            "ValidationError(Job.spec.parallelism): invalid type for \
             io.k8s.api.batch.v1.JobSpec.parallelism: got \"string\", expected \"integer\""
        ),
        "{stderr}"
    );
    // Nothing of the refused lists was created.
    let names = s.ok(&["get", "jobs", "-o", "name"]);
    assert_eq!(names, "job.batch/listed-1\njob.batch/listed-2\n");
}

/// A value of the wrong JSON type (the classic `command: "echo hi"`) gets the real server's
/// message: Go's decoder naming the struct, the field path and the Go type.
#[test]
fn a_value_of_the_wrong_type_gets_gos_decoding_error() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start();
    let manifest = "apiVersion: batch/v1
kind: Job
metadata:
  name: typed
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: \"echo hi\"
";
    let r = s.kubectl_stdin(&["create", "-f", "-"], manifest.as_bytes());
    assert!(!r.success);
    assert_eq!(
        r.stderr.trim_end(),
        "Error from server (BadRequest): error when creating \"STDIN\": Job in version \"v1\" \
         cannot be handled as a Job: json: cannot unmarshal string into Go struct field \
         Container.spec.template.spec.containers.command of type []string"
    );
    let r = s.kubectl_stdin(
        &["apply", "-f", "-"],
        manifest
            .replace("command: \"echo hi\"", "command: [echo, hi]")
            .replace("  template:", "  parallelism: \"2\"\n  template:")
            .as_bytes(),
    );
    assert!(!r.success);
    assert!(
        r.stderr.contains(
            "json: cannot unmarshal string into Go struct field JobSpec.spec.parallelism of type int32"
        ),
        "{}",
        r.stderr
    );
}
