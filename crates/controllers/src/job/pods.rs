//! What the Job controller reads from and writes into pods: classification (active,
//! terminating, ready, failed), completion indexes, finish times, the deletion order
//! (`controller.ActivePods`), and pod construction from the Job's template.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;
use std::cmp::Ordering;

/// The finalizer that keeps a pod until the Job controller has counted it.
pub const TRACKING_FINALIZER: &str = "batch.kubernetes.io/job-tracking";
/// The completion index annotation (and, PodIndexLabel, label).
pub const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";
/// Counted failures of the pod's index (backoffLimitPerIndex).
pub const INDEX_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-failure-count";
/// Failures of the pod's index the pod failure policy ignored.
pub const INDEX_IGNORED_FAILURE_COUNT: &str = "batch.kubernetes.io/job-index-ignored-failure-count";
/// The environment variable that carries the completion index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";
/// The longest `generateName` prefix the apiserver keeps (63 − 5 random characters).
const MAX_GENERATED_PREFIX: usize = 58;
/// The alphabet of generated name suffixes (`utilrand.String`).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The pod's phase, or "" when unset.
pub fn phase(p: &Pod) -> &str {
    p.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed.
pub fn is_terminal(p: &Pod) -> bool {
    matches!(phase(p), "Succeeded" | "Failed")
}

/// Whether a sync of the pod's Job reads it: not terminal yet, or terminal and not yet
/// counted (it still carries the tracking finalizer). A terminal pod without the finalizer
/// is counted in the Job's status (or was never tracked), and `plan` decides the same
/// without it: its success or failure is in `succeeded` / `failed`, its index in
/// `completedIndexes` / `failedIndexes`, and a pod failure policy's verdict on it in the
/// conditions, all written before its finalizer was removed (the tests check this
/// equivalence for every case). The controller's pod index keeps only these, so a sync costs
/// the Job's live pods, not every pod it ever ran.
pub fn matters(p: &Pod) -> bool {
    !is_terminal(p) || has_finalizer(p)
}

/// Not terminal and not being deleted.
pub fn is_active(p: &Pod) -> bool {
    !is_terminal(p) && p.metadata.deletion_timestamp.is_none()
}

/// Being deleted and not terminal.
pub fn is_terminating(p: &Pod) -> bool {
    !is_terminal(p) && p.metadata.deletion_timestamp.is_some()
}

/// The pod's `Ready` condition is True.
pub fn is_ready(p: &Pod) -> bool {
    ready_since(p).is_some()
}

fn ready_since(p: &Pod) -> Option<Option<Timestamp>> {
    p.status
        .as_ref()?
        .conditions
        .as_deref()?
        .iter()
        .find(|c| c.type_ == "Ready" && c.status == "True")
        .map(|c| c.last_transition_time.as_ref().map(|t| t.0))
}

/// Whether the pod still carries the tracking finalizer.
pub fn has_finalizer(p: &Pod) -> bool {
    p.metadata
        .finalizers
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|f| f == TRACKING_FINALIZER)
}

/// The pod's uid ("" when unset).
pub fn uid(p: &Pod) -> &str {
    p.metadata.uid.as_deref().unwrap_or("")
}

/// The pod's name ("" when unset).
pub fn name(p: &Pod) -> &str {
    p.metadata.name.as_deref().unwrap_or("")
}

/// The completion index from the annotation, if valid (`getCompletionIndex`).
pub fn completion_index(p: &Pod) -> Option<i32> {
    p.metadata
        .annotations
        .as_ref()?
        .get(INDEX_ANNOTATION)?
        .parse::<i32>()
        .ok()
        .filter(|i| *i >= 0)
}

/// A non-negative integer annotation, 0 when absent or malformed.
pub fn count_annotation(p: &Pod, key: &str) -> i32 {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0)
}

/// When the pod finished (`getFinishedTime`): the last container `finishedAt` if all are
/// terminated, else a `Ready=False` transition, else deletion time minus grace, else creation.
pub fn finished_time(p: &Pod) -> Timestamp {
    from_containers(p)
        .or_else(|| {
            p.status
                .as_ref()?
                .conditions
                .as_deref()?
                .iter()
                .find(|c| c.type_ == "Ready" && c.status == "False")?
                .last_transition_time
                .as_ref()
                .map(|t| t.0)
        })
        .or_else(|| {
            let d = p.metadata.deletion_timestamp.as_ref()?.0;
            let grace = p.metadata.deletion_grace_period_seconds.unwrap_or(0);
            d.checked_sub(k8s_openapi::jiff::SignedDuration::from_secs(grace))
                .ok()
        })
        .or_else(|| p.metadata.creation_timestamp.as_ref().map(|t| t.0))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn from_containers(p: &Pod) -> Option<Timestamp> {
    let statuses = p.status.as_ref()?.container_statuses.as_deref()?;
    let mut latest: Option<Timestamp> = None;
    for s in statuses {
        let t = s
            .state
            .as_ref()?
            .terminated
            .as_ref()?
            .finished_at
            .as_ref()?
            .0;
        latest = Some(latest.map_or(t, |l| l.max(t)));
    }
    latest
}

/// The sum of restart counts over init and regular containers.
pub fn restarts(p: &Pod) -> i32 {
    let Some(s) = p.status.as_ref() else { return 0 };
    s.init_container_statuses
        .iter()
        .chain(s.container_statuses.iter())
        .flatten()
        .map(|c| c.restart_count)
        .sum()
}

fn max_restarts(p: &Pod) -> i32 {
    let Some(s) = p.status.as_ref() else { return 0 };
    s.container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0)
}

fn phase_ordinal(p: &Pod) -> u8 {
    match phase(p) {
        "Pending" | "" => 0,
        "Unknown" => 1,
        _ => 2,
    }
}

/// `controller.ActivePods`: the most deletable pod first.
pub fn deletion_order(a: &Pod, b: &Pod) -> Ordering {
    let node = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    };
    // Later (or missing) times first: "afterOrZero".
    let after_or_zero = |x: Option<Timestamp>, y: Option<Timestamp>| match (x, y) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Less,
        (_, None) => Ordering::Greater,
        (Some(x), Some(y)) => y.cmp(&x),
    };
    node(a)
        .cmp(&node(b))
        .then_with(|| phase_ordinal(a).cmp(&phase_ordinal(b)))
        .then_with(|| is_ready(a).cmp(&is_ready(b)))
        .then_with(|| match (ready_since(a), ready_since(b)) {
            (Some(x), Some(y)) => after_or_zero(x, y),
            _ => Ordering::Equal,
        })
        .then_with(|| max_restarts(b).cmp(&max_restarts(a)))
        .then_with(|| {
            after_or_zero(
                a.metadata.creation_timestamp.as_ref().map(|t| t.0),
                b.metadata.creation_timestamp.as_ref().map(|t| t.0),
            )
        })
}

/// A deterministic source of generated-name suffixes (splitmix64 over a seed), so that
/// `plan` is a pure function of its inputs.
#[derive(Debug, Clone)]
pub struct Suffixes(u64);

impl Suffixes {
    /// Suffixes derived from `seed`.
    pub fn new(seed: u64) -> Suffixes {
        Suffixes(seed)
    }

    /// Five characters from the apiserver's alphabet.
    pub fn next_suffix(&mut self) -> String {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (0..5)
            .map(|i| {
                let n = ALPHABET.len() as u64;
                char::from(ALPHABET[((z >> (i * 12)) % n) as usize])
            })
            .collect()
    }
}

/// The `generateName` of a pod (`getPodsPrefix` / `podGenerateNameWithIndex`).
pub fn generate_name(job: &str, index: Option<i32>) -> String {
    match index {
        None => {
            let mut p = format!("{job}-");
            if p.len() > MAX_GENERATED_PREFIX {
                p.truncate(MAX_GENERATED_PREFIX);
            }
            p
        }
        Some(i) => {
            let tail = format!("-{i}-");
            let prefix = format!("{job}{tail}");
            if prefix.len() > MAX_GENERATED_PREFIX {
                let keep = MAX_GENERATED_PREFIX.saturating_sub(tail.len());
                format!("{}{tail}", job.get(..keep).unwrap_or(job))
            } else {
                prefix
            }
        }
    }
}

/// Per-index failure counts to copy into a new pod (backoffLimitPerIndex).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexFailures {
    /// `job-index-failure-count`.
    pub counted: i32,
    /// `job-index-ignored-failure-count`.
    pub ignored: i32,
}

/// What a new pod is: its name, and for Indexed Jobs its index and failure counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPod {
    /// The full name (`generateName` plus five characters).
    pub name: String,
    /// The completion index (Indexed only).
    pub index: Option<i32>,
    /// Failure counts (backoffLimitPerIndex only).
    pub failures: Option<IndexFailures>,
}

fn add_index_env(c: &mut k8s_openapi::api::core::v1::Container) {
    let env = c.env.get_or_insert_with(Vec::new);
    if env.iter().any(|e| e.name == INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: INDEX_ENV.into(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.labels['{INDEX_ANNOTATION}']"),
            }),
            ..Default::default()
        }),
    });
}

/// Builds a pod from the Job's template (`GetPodFromTemplate` plus the Job controller's
/// additions): template labels, annotations and finalizers plus the tracking finalizer, the
/// controller ownerReference, and for Indexed Jobs the index annotation, label, env var and
/// hostname.
pub fn build(job: &Job, new: &NewPod) -> Pod {
    let template = job
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let tm = template.metadata.unwrap_or_default();
    let mut spec = template.spec.unwrap_or_default();
    let job_name = job.metadata.name.clone().unwrap_or_default();
    let mut labels = tm.labels.unwrap_or_default();
    let mut annotations = tm.annotations.unwrap_or_default();
    let mut finalizers = tm.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == TRACKING_FINALIZER) {
        finalizers.push(TRACKING_FINALIZER.into());
    }
    if let Some(i) = new.index {
        annotations.insert(INDEX_ANNOTATION.into(), i.to_string());
        labels.insert(INDEX_ANNOTATION.into(), i.to_string());
        spec.hostname = Some(format!("{job_name}-{i}"));
        for c in spec.init_containers.iter_mut().flatten() {
            add_index_env(c);
        }
        for c in spec.containers.iter_mut() {
            add_index_env(c);
        }
        if let Some(f) = new.failures {
            annotations.insert(INDEX_FAILURE_COUNT.into(), f.counted.to_string());
            if f.ignored > 0 {
                annotations.insert(INDEX_IGNORED_FAILURE_COUNT.into(), f.ignored.to_string());
            }
        }
    }
    let owner = OwnerReference {
        api_version: "batch/v1".into(),
        kind: "Job".into(),
        name: job_name.clone(),
        uid: job.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(new.name.clone()),
            generate_name: Some(generate_name(&job_name, new.index)),
            namespace: job.metadata.namespace.clone(),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}
