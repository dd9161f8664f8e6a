//! Table tests: the seed manifests (after defaulting) and one case per rule, each an input
//! and the exact `kubectl`-visible lines the real API server would return.

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Event, Namespace, Node, Pod};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::*;
use crate::defaults::{
    default_cronjob, default_job, default_namespace, default_pod, prepare_job_for_create,
};

const UID: &str = "8f2b3c1e-0000-4000-8000-000000000001";

fn from<T: DeserializeOwned + Default>(v: Value) -> T {
    serde_json::from_value(v).unwrap_or_default()
}

fn lines(errs: ErrorList) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

/// A Job as the API server has it at validation time: defaulted and prepared.
fn job(v: Value) -> Job {
    let mut j: Job = from(v);
    j.metadata.namespace.get_or_insert_with(|| "default".into());
    default_job(&mut j);
    prepare_job_for_create(&mut j, UID);
    j
}

fn cronjob(v: Value) -> CronJob {
    let mut c: CronJob = from(v);
    c.metadata.namespace.get_or_insert_with(|| "default".into());
    default_cronjob(&mut c);
    c
}

fn pod(v: Value) -> Pod {
    let mut p: Pod = from(v);
    p.metadata.namespace.get_or_insert_with(|| "default".into());
    default_pod(&mut p);
    p
}

/// A Job with the given template pod spec fields merged into a valid one.
fn job_with_pod(extra: Value) -> Job {
    let mut spec =
        json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]});
    merge(&mut spec, extra);
    job(json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": spec}}}))
}

fn job_with_spec(extra: Value) -> Job {
    let mut spec = json!({"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}});
    merge(&mut spec, extra);
    job(json!({"metadata": {"name": "j"}, "spec": spec}))
}

fn merge(base: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        for (k, v) in e {
            b.insert(k, v);
        }
    }
}

fn seed_job() -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "my-busybox-job"},
        "spec": {"parallelism": 3, "completions": 4, "backoffLimit": 2, "ttlSecondsAfterFinished": 100,
            "template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "my-container-job", "image": "busybox:1.28", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c"], "args": ["echo \"Welcome to k8s\";sleep 60; echo \"Next to Meet you\""]}]}}}})
}

#[test]
fn seed_job_is_valid_and_defaulted_like_a_real_cluster() {
    let j = job(seed_job());
    assert_eq!(lines(validate_job_create(&j)), Vec::<String>::new());
    let v = serde_json::to_value(&j).unwrap_or_default();
    let spec = &v["spec"];
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["manualSelector"], false);
    assert_eq!(spec["backoffLimit"], 2);
    assert_eq!(
        spec["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": UID}})
    );
    let labels = json!({"batch.kubernetes.io/controller-uid": UID, "batch.kubernetes.io/job-name": "my-busybox-job",
        "controller-uid": UID, "job-name": "my-busybox-job"});
    assert_eq!(spec["template"]["metadata"]["labels"], labels);
    assert_eq!(v["metadata"]["labels"], labels);
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["securityContext"], json!({}));
    assert_eq!(
        pod["containers"][0]["terminationMessagePath"],
        "/dev/termination-log"
    );
    assert_eq!(pod["containers"][0]["terminationMessagePolicy"], "File");
}

fn cj_hello() -> Value {
    json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj-hello"},
        "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobHistoryLimit": 3,
            "jobTemplate": {"spec": {"backoffLimit": 2, "template": {"spec": {"restartPolicy": "OnFailure",
                "containers": [{"name": "hello", "image": "busybox", "imagePullPolicy": "IfNotP-resent",
                    "command": ["/bin/sh", "-c", "date; echo Hello from the Kubernetes cluster"]}]}}}}}})
}

#[test]
fn seed_cronjobs() {
    assert_eq!(
        lines(validate_cronjob_create(&cronjob(cj_hello()))),
        vec![
            "spec.jobTemplate.spec.template.spec.containers[0].imagePullPolicy: Unsupported value: \"IfNotP-resent\": supported values: \"Always\", \"IfNotPresent\", \"Never\""
        ]
    );
    let mysql = json!({"metadata": {"name": "mysql-backup", "namespace": "cronjob"},
        "spec": {"schedule": "01 16 * * *", "failedJobsHistoryLimit": 5, "successfulJobsHistoryLimit": 5,
            "jobTemplate": {"spec": {"template": {"spec": {
                "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "mysql-backup-data"}}],
                "restartPolicy": "Never",
                "containers": [{"name": "backup", "image": "registry.cn-beijing.aliyuncs.com/dotbalo/mysql:8.0.20",
                    "command": ["sh", "-c", "mysqldump -hmysql.default -P3306 -uroot -p'password_123' --all-databases > /mnt/all.sql; ls /mnt/\n"],
                    "volumeMounts": [{"name": "data", "mountPath": "/mnt"}]}]}}}}}});
    assert_eq!(
        lines(validate_cronjob_create(&cronjob(mysql))),
        Vec::<String>::new()
    );
    let restart = json!({"metadata": {"name": "default-restart", "namespace": "cronjob"},
        "spec": {"schedule": "01 18 * * 5", "concurrencyPolicy": "Allow", "suspend": false,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{
                "name": "restart", "image": "registry.cn-beijing.aliyuncs.com/dotbalo/kubectl:latest",
                "command": ["/bin/bash - '-c' - >- kubectl rollout restart deploy mysql -n default"]}]}}}}}});
    let c = cronjob(restart);
    assert_eq!(lines(validate_cronjob_create(&c)), Vec::<String>::new());
    let pull = c
        .spec
        .and_then(|s| s.job_template.spec)
        .and_then(|s| s.template.spec)
        .and_then(|s| {
            s.containers
                .first()
                .and_then(|c| c.image_pull_policy.clone())
        });
    assert_eq!(pull.as_deref(), Some("Always"));
    let tz = json!({"metadata": {"name": "example-cronjob"}, "spec": {"schedule": "*/5 02 * * *", "timeZone": "Asia/Shanghai",
        "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}}}});
    assert_eq!(
        lines(validate_cronjob_create(&cronjob(tz))),
        Vec::<String>::new()
    );
}

#[test]
fn job_restart_policy() {
    let required =
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"";
    assert_eq!(
        lines(validate_job_create(&job_with_pod(
            json!({"restartPolicy": "Always"})
        ))),
        vec![required]
    );
    assert_eq!(
        lines(validate_job_create(&job_with_pod(
            json!({"restartPolicy": null})
        ))),
        vec![required]
    );
    assert_eq!(
        lines(validate_job_create(&job_with_pod(
            json!({"restartPolicy": "Sometimes"})
        ))),
        vec![
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
            "spec.template.spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"OnFailure\", \"Never\"",
        ]
    );
}

#[test]
fn job_spec_rules() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"parallelism": -1, "backoffLimit": -2, "activeDeadlineSeconds": -3, "ttlSecondsAfterFinished": -4}),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.activeDeadlineSeconds: Invalid value: -3: must be greater than or equal to 0",
                "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0",
                "spec.ttlSecondsAfterFinished: Invalid value: -4: must be greater than or equal to 0",
            ],
        ),
        (
            json!({"completionMode": "Sequential"}),
            vec![
                "spec.completionMode: Unsupported value: \"Sequential\": supported values: \"NonIndexed\", \"Indexed\"",
            ],
        ),
        (
            json!({"maxFailedIndexes": 1}),
            vec![
                "spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified",
                "spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode",
            ],
        ),
        (
            json!({"completionMode": "Indexed", "parallelism": 100001, "completions": 3, "backoffLimitPerIndex": 1, "maxFailedIndexes": 4}),
            vec![
                "spec.parallelism: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed",
                "spec.maxFailedIndexes: Invalid value: 4: must be less than or equal to completions",
            ],
        ),
        (
            json!({"podReplacementPolicy": "Sometimes"}),
            vec![
                "spec.podReplacementPolicy: Unsupported value: \"Sometimes\": supported values: \"Failed\", \"TerminatingOrFailed\"",
            ],
        ),
        (
            json!({"managedBy": "nodomain"}),
            vec![
                "spec.managedBy: Invalid value: \"nodomain\": must be a domain-prefixed path (such as \"acme.io/foo\")",
            ],
        ),
        (
            json!({"successPolicy": {"rules": [{"succeededCount": 1}]}}),
            vec![
                "spec.successPolicy: Invalid value: batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{batch.SuccessPolicyRule{SucceededIndexes:(*string)(nil), SucceededCount:(*int32)(0xc000000000)}}}: requires indexed completion mode",
            ],
        ),
        (
            json!({"completionMode": "Indexed", "completions": 5, "successPolicy": {"rules": [{"succeededIndexes": "3-1", "succeededCount": 6}, {}]}}),
            vec![
                "spec.successPolicy.rules[0].succeededIndexes: Invalid value: \"3-1\": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1",
                "spec.successPolicy.rules[0].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
                "spec.successPolicy.rules[0].succeededCount: Invalid value: 6: must be less than or equal to 0 (the number of indexes in the specified succeededIndexes field)",
                "spec.successPolicy.rules[1]: Required value: at least one of succeededCount or succeededIndexes must be specified",
            ],
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(
            lines(validate_job_create(&job_with_spec(spec.clone()))),
            want,
            "{spec}"
        );
    }
}

#[test]
fn job_pod_failure_policy() {
    let pfp = json!({"podFailurePolicy": {"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 0, 3]}},
        {"action": "Explode", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailIndex", "onExitCodes": {"containerName": "nope", "operator": "Between", "values": []}},
        {"action": ""}
    ]}});
    assert_eq!(
        lines(validate_job_create(&job_with_spec(pfp))),
        vec![
            "spec.podFailurePolicy.rules[0].onExitCodes.values[1]: Invalid value: 0: must not be 0 for the In operator",
            "spec.podFailurePolicy.rules[0].onExitCodes.values[2]: Duplicate value: 3",
            "spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 0, 3}: must be ordered",
            "spec.podFailurePolicy.rules[1].action: Unsupported value: \"Explode\": supported values: \"Count\", \"FailIndex\", \"FailJob\", \"Ignore\"",
            "spec.podFailurePolicy.rules[2].action: Invalid value: \"FailIndex\": requires the backoffLimitPerIndex to be set",
            "spec.podFailurePolicy.rules[2].onExitCodes.operator: Unsupported value: \"Between\": supported values: \"In\", \"NotIn\"",
            "spec.podFailurePolicy.rules[2].onExitCodes.containerName: Invalid value: \"nope\": must be one of the container or initContainer names in the pod template",
            "spec.podFailurePolicy.rules[2].onExitCodes.values: Invalid value: []int32{}: at least one value is required",
            "spec.podFailurePolicy.rules[3].action: Required value: valid values: [\"Count\" \"FailIndex\" \"FailJob\" \"Ignore\"]",
            "spec.podFailurePolicy.rules[3]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required",
        ]
    );
    let on_failure = json!({"podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]},
        "template": {"spec": {"restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}});
    assert_eq!(
        lines(validate_job_create(&job_with_spec(on_failure))),
        vec![
            "spec.template.spec.restartPolicy: Invalid value: \"OnFailure\": only \"Never\" is supported when podFailurePolicy is specified"
        ]
    );
}

#[test]
fn job_selector_and_names() {
    let manual = json!({"manualSelector": true, "selector": {"matchLabels": {"app": "x"}}});
    let tmpl_labels = "map[string]string(nil)";
    assert_eq!(
        lines(validate_job_create(&job_with_spec(manual))),
        vec![format!(
            "spec.template.metadata.labels: Invalid value: {tmpl_labels}: `selector` does not match template `labels`"
        )]
    );
    let wrong =
        json!({"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "other"}}});
    let got = lines(validate_job_create(&job_with_spec(wrong)));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[0].starts_with("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":\"other\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"));
    assert!(got[1].ends_with("`selector` does not match template `labels`"));
    let long = "a".repeat(64);
    let j = job(
        json!({"metadata": {"name": long}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}),
    );
    let too_long = format!(
        "spec.template.labels: Invalid value: \"{long}\": must be no more than 63 characters"
    );
    assert_eq!(
        lines(validate_job_create(&j)),
        vec![too_long.clone(), too_long]
    );
    let indexed = job(
        json!({"metadata": {"name": "a.b"}, "spec": {"completionMode": "Indexed", "completions": 2,
        "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}),
    );
    assert_eq!(
        lines(validate_job_create(&indexed)),
        vec![
            "metadata.name: Invalid value: \"a.b\": will not able to create pod with invalid DNS label: a.b-1"
        ]
    );
}

#[test]
fn job_update_immutability() {
    let mut old = job(seed_job());
    old.metadata.resource_version = Some("5".into());
    let mut new = old.clone();
    if let Some(s) = new.spec.as_mut() {
        s.completions = Some(5);
        s.completion_mode = Some("Indexed".into());
        s.parallelism = Some(4);
        if let Some(c) = s
            .template
            .spec
            .as_mut()
            .and_then(|p| p.containers.first_mut())
        {
            c.image = Some("busybox:1.36".into());
        }
    }
    assert_eq!(
        lines(validate_job_update(&new, &old)),
        vec![
            "spec.completions: Invalid value: 5: can only be modified in tandem with spec.parallelism",
            "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable",
            "spec.completionMode: Invalid value: \"Indexed\": field is immutable",
        ]
    );
    let mut ok = old.clone();
    if let Some(s) = ok.spec.as_mut() {
        s.parallelism = Some(1);
        s.suspend = Some(true);
    }
    assert_eq!(lines(validate_job_update(&ok, &old)), Vec::<String>::new());
}

#[test]
fn job_status_transitions() {
    let mut old = job(seed_job());
    old.metadata.resource_version = Some("5".into());
    old.status = Some(from(
        json!({"failed": 2, "conditions": [{"type": "FailureTarget", "status": "True"}]}),
    ));
    let mut new = old.clone();
    new.status = Some(from(
        json!({"failed": 1, "ready": 2, "conditions": [{"type": "Failed", "status": "True"}]}),
    ));
    assert_eq!(
        lines(validate_job_status_update(&new, &old)),
        vec![
            "status.conditions: Invalid value: cannot set Failed=True condition without the FailureTarget=true condition",
            "status.startTime: Required value: startTime is required for finished job",
            "status.ready: Invalid value: 2: cannot set more ready pods than active",
            "status.conditions: Invalid value: cannot disable the terminal FailureTarget=True condition",
            "status.failed: Invalid value: 1: cannot decrease the failed counter",
        ]
    );
}

#[test]
fn cronjob_rules() {
    let base = |extra: Value| {
        let mut v = cj_hello();
        v["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
            json!("IfNotPresent");
        merge(&mut v["spec"], extra);
        cronjob(v)
    };
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"schedule": "61 * * * *"}),
            vec![
                "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) above maximum (59): 61",
            ],
        ),
        (
            json!({"schedule": "* * * *"}),
            vec![
                "spec.schedule: Invalid value: \"* * * *\": expected exactly 5 fields, found 4: [* * * *]",
            ],
        ),
        (
            json!({"schedule": "CRON_TZ=UTC 0 * * * *"}),
            vec![
                "spec.schedule: Invalid value: \"CRON_TZ=UTC 0 * * * *\": cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            ],
        ),
        (
            json!({"timeZone": "Mars/Base"}),
            vec!["spec.timeZone: Invalid value: \"Mars/Base\": unknown time zone Mars/Base"],
        ),
        (
            json!({"timeZone": "local"}),
            vec![
                "spec.timeZone: Invalid value: \"local\": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
                "spec.timeZone: Invalid value: \"local\": unknown time zone local",
            ],
        ),
        (
            json!({"timeZone": ""}),
            vec!["spec.timeZone: Invalid value: \"\": timeZone must be nil or non-empty string"],
        ),
        (
            json!({"timeZone": "../etc/passwd"}),
            vec![
                "spec.timeZone: Invalid value: \"../etc/passwd\": unknown time zone ../etc/passwd",
            ],
        ),
        (
            json!({"concurrencyPolicy": "Never"}),
            vec![
                "spec.concurrencyPolicy: Unsupported value: \"Never\": supported values: \"Allow\", \"Forbid\", \"Replace\"",
            ],
        ),
        (
            json!({"startingDeadlineSeconds": -1, "successfulJobsHistoryLimit": -1, "failedJobsHistoryLimit": -2}),
            vec![
                "spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
                "spec.successfulJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
                "spec.failedJobsHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
            ],
        ),
    ];
    for (extra, want) in cases {
        assert_eq!(
            lines(validate_cronjob_create(&base(extra.clone()))),
            want,
            "{extra}"
        );
    }
    let mut c = base(json!({}));
    c.metadata.name = Some("a".repeat(53));
    assert_eq!(
        lines(validate_cronjob_create(&c)),
        vec![format!(
            "metadata.name: Invalid value: \"{}\": must be no more than 52 characters",
            "a".repeat(53)
        )]
    );
    let mut sel = base(json!({}));
    if let Some(js) = sel.spec.as_mut().and_then(|s| s.job_template.spec.as_mut()) {
        js.manual_selector = Some(true);
    }
    assert_eq!(
        lines(validate_cronjob_create(&sel)),
        vec![
            "spec.jobTemplate.spec.manualSelector: Unsupported value: true: supported values: \"nil\", \"false\""
        ]
    );
}

#[test]
fn pod_spec_rules() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"containers": []}),
            vec!["spec.template.spec.containers: Required value"],
        ),
        (
            json!({"containers": [{"name": "", "image": ""}, {"name": "Web_1", "image": "x"}, {"name": "Web_1", "image": "y"}]}),
            vec![
                "spec.template.spec.containers[0].name: Required value",
                "spec.template.spec.containers[0].image: Required value",
                "spec.template.spec.containers[1].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.template.spec.containers[2].name: Invalid value: \"Web_1\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                "spec.template.spec.containers[2].name: Duplicate value: \"Web_1\"",
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i", "terminationMessagePolicy": "Always",
            "ports": [{"containerPort": 70000, "protocol": "HTTP"}],
            "env": [{"name": "A=B"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "spec.host"}}}]}]}),
            vec![
                "spec.template.spec.containers[0].terminationMessagePolicy: Unsupported value: \"Always\": supported values: \"File\", \"FallbackToLogsOnError\"",
                "spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
                "spec.template.spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
                "spec.template.spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
                "spec.template.spec.containers[0].env[1].valueFrom.fieldRef.fieldPath: Unsupported value: \"spec.host\": supported values: \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.hostIPs\", \"status.podIP\", \"status.podIPs\"",
            ],
        ),
        (
            json!({"volumes": [{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}, {"name": "p", "persistentVolumeClaim": {"claimName": ""}}],
            "containers": [{"name": "c", "image": "i", "volumeMounts": [{"name": "x", "mountPath": "/a"}, {"name": "v", "mountPath": "/a"}]}]}),
            vec![
                "spec.template.spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
                "spec.template.spec.volumes[1].persistentVolumeClaim.claimName: Required value",
                "spec.template.spec.containers[0].volumeMounts[0].name: Not found: \"x\"",
                "spec.template.spec.containers[0].volumeMounts[1].name: Not found: \"v\"",
                "spec.template.spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/a\": must be unique",
            ],
        ),
        (
            json!({"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"cpu": "500m", "memory": "1024Mi"}}}]}),
            vec![
                "spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 500m",
            ],
        ),
        (
            json!({"activeDeadlineSeconds": 0, "dnsPolicy": "Cluster", "nodeSelector": {"disk": "ssd!"}, "containers": [{"name": "c", "image": "i"}]}),
            vec![
                "spec.template.spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
                "spec.template.spec.nodeSelector: Invalid value: \"ssd!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "spec.template.spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
            ],
        ),
    ];
    for (pod_spec, want) in cases {
        assert_eq!(
            lines(validate_job_create(&job_with_pod(pod_spec.clone()))),
            want,
            "{pod_spec}"
        );
    }
}

#[test]
fn pod_create_and_update() {
    let p = pod(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": " busybox"}]}}),
    );
    assert_eq!(
        lines(validate_pod_create(&p)),
        vec![
            "spec.containers[0].image: Invalid value: \" busybox\": must not have leading or trailing whitespace"
        ]
    );
    let mut old = pod(
        json!({"metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
    );
    old.metadata.resource_version = Some("1".into());
    assert_eq!(lines(validate_pod_create(&old)), Vec::<String>::new());
    let mut new = old.clone();
    if let Some(s) = new.spec.as_mut() {
        s.containers[0].image = Some("busybox:2".into());
        s.active_deadline_seconds = Some(10);
    }
    assert_eq!(lines(validate_pod_update(&new, &old)), Vec::<String>::new());
    let mut bad = new.clone();
    if let Some(s) = bad.spec.as_mut() {
        s.restart_policy = Some("Never".into());
    }
    let got = lines(validate_pod_update(&bad, &new));
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n"), "{got:?}");
    let mut more = new.clone();
    if let Some(s) = more.spec.as_mut() {
        s.active_deadline_seconds = Some(20);
    }
    assert_eq!(
        lines(validate_pod_update(&more, &new)),
        vec![
            "spec.activeDeadlineSeconds: Invalid value: 20: must be less than or equal to previous value"
        ]
    );
}

#[test]
fn pod_defaults() {
    let p = pod(json!({"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "image": "busybox", "ports": [{"containerPort": 80}], "resources": {"limits": {"cpu": "1"}}},
        {"name": "b", "image": "nginx:1.25"}, {"name": "c", "image": "repo/x@sha256:abc"}]}}));
    let v = serde_json::to_value(&p).unwrap_or_default();
    let s = &v["spec"];
    assert_eq!(s["restartPolicy"], "Always");
    assert_eq!(s["enableServiceLinks"], true);
    assert_eq!(s["serviceAccountName"], "default");
    assert_eq!(s["priority"], 0);
    assert_eq!(s["containers"][0]["imagePullPolicy"], "Always");
    assert_eq!(s["containers"][1]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(s["containers"][2]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(s["containers"][0]["ports"][0]["protocol"], "TCP");
    assert_eq!(s["containers"][0]["resources"]["requests"]["cpu"], "1");
    assert_eq!(
        s["containers"][0]["resizePolicy"],
        json!([{"resourceName": "cpu", "restartPolicy": "NotRequired"}])
    );
    assert_eq!(s["tolerations"].as_array().map(Vec::len), Some(2));
}

#[test]
fn namespace_event_node() {
    let mut ns: Namespace = from(json!({"metadata": {"name": "team.a"}}));
    default_namespace(&mut ns);
    assert_eq!(
        lines(validate_namespace(&ns)),
        vec!["metadata.name: Invalid value: \"team.a\": must not contain dots"]
    );
    let mut ok: Namespace = from(json!({"metadata": {"name": "cronjob"}}));
    default_namespace(&mut ok);
    assert_eq!(lines(validate_namespace(&ok)), Vec::<String>::new());
    let v = serde_json::to_value(&ok).unwrap_or_default();
    assert_eq!(
        v["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "cronjob"
    );
    assert_eq!(v["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(v["status"]["phase"], "Active");
    let ev: Event = from(
        json!({"metadata": {"name": "e", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}}),
    );
    assert_eq!(
        lines(validate_event(&ev)),
        vec!["involvedObject.namespace: Invalid value: \"other\": does not match event.namespace"]
    );
    let node: Node = from(json!({"metadata": {"name": "Node_1"}}));
    assert_eq!(lines(validate_node(&node)).len(), 1);
    let node: Node = from(json!({"metadata": {"name": "node-1"}}));
    assert_eq!(lines(validate_node(&node)), Vec::<String>::new());
}
