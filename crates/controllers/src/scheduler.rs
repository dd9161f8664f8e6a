//! The scheduler: binds each pending pod without a node (and `schedulerName`
//! `default-scheduler`) to a Ready node that fits it, through `pods/binding`, as
//! kube-scheduler's default filters and least-allocated scoring would on a small cluster:
//! `NodeUnschedulable`, the not-ready taint, `nodeSelector`, and `NodeResourcesFit` (cpu and
//! memory requests against allocatable minus the requests of the node's non-terminal pods,
//! and the pod count). A pod that fits nowhere gets `PodScheduled=False` with reason
//! `Unschedulable` and the scheduler's message, and a `FailedScheduling` event; a bound one a
//! `Scheduled` event. The decision is [`plan`]; the rest is the shell: pod workers over a
//! [`WorkQueue`] fed straight from the Pod and Node caches' changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use api::validation::Quantity;
use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::{Error, Result};
use informer::{Change, Next, RateLimit, Subscription, WorkQueue};

/// The scheduler's name (`spec.schedulerName` of the pods it binds).
pub const NAME: &str = "default-scheduler";
/// How often an unschedulable pod is tried again without a change.
const RETRY: Duration = Duration::from_secs(10);

/// What the scheduler knows of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Labels (for `nodeSelector`).
    pub labels: BTreeMap<String, String>,
    /// The Ready condition is True.
    pub ready: bool,
    /// Cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// Allocatable CPU in millicores.
    pub cpu_millis: i128,
    /// Allocatable memory in bytes.
    pub memory_bytes: i128,
    /// Allocatable pod count.
    pub pods: i128,
}

/// What is already placed on a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Requested CPU in millicores.
    pub cpu_millis: i128,
    /// Requested memory in bytes.
    pub memory_bytes: i128,
    /// Pods.
    pub pods: i128,
}

/// The scheduler's decision for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bind to this node.
    Bind(String),
    /// Fits nowhere; the message says why.
    Unschedulable(String),
}

fn quantity(
    list: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
    k: &str,
    milli: bool,
) -> i128 {
    list.and_then(|l| l.get(k))
        .and_then(|q| Quantity::parse(&q.0))
        .map_or(0, |q| if milli { q.milli_value() } else { q.value() })
}

/// The pod's effective requests (`computePodResourceRequest`): the larger of the sum over
/// its containers and the largest init container, plus its overhead.
pub fn requests(pod: &Pod) -> Usage {
    let Some(spec) = pod.spec.as_ref() else {
        return Usage {
            pods: 1,
            ..Default::default()
        };
    };
    let of = |c: &k8s_openapi::api::core::v1::Container| {
        let r = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        (quantity(r, "cpu", true), quantity(r, "memory", false))
    };
    let (mut cpu, mut mem) = (0, 0);
    for c in &spec.containers {
        let (a, b) = of(c);
        cpu += a;
        mem += b;
    }
    for c in spec.init_containers.iter().flatten() {
        let (a, b) = of(c);
        cpu = cpu.max(a);
        mem = mem.max(b);
    }
    let o = spec.overhead.as_ref();
    Usage {
        cpu_millis: cpu + quantity(o, "cpu", true),
        memory_bytes: mem + quantity(o, "memory", false),
        pods: 1,
    }
}

/// A node's facts from the Node object.
pub fn node_info(n: &Node) -> NodeInfo {
    let status = n.status.as_ref();
    let alloc = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
    NodeInfo {
        name: n.metadata.name.clone().unwrap_or_default(),
        labels: n.metadata.labels.clone().unwrap_or_default(),
        ready: status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().rfind(|c| c.type_ == "Ready"))
            .is_some_and(|c| c.status == "True"),
        unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true),
        cpu_millis: quantity(alloc, "cpu", true),
        memory_bytes: quantity(alloc, "memory", false),
        pods: quantity(alloc, "pods", false),
    }
}

/// Why `node` cannot take `pod` (the failing filter's reasons), and whether preemption could
/// help (resources) or not (the rest).
fn filter(pod: &Pod, want: &Usage, node: &NodeInfo, used: &Usage) -> (Vec<&'static str>, bool) {
    if node.unschedulable {
        return (vec!["node(s) were unschedulable"], false);
    }
    if !node.ready {
        return (
            vec!["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"],
            false,
        );
    }
    let selector = pod.spec.as_ref().and_then(|s| s.node_selector.as_ref());
    if selector.is_some_and(|sel| sel.iter().any(|(k, v)| node.labels.get(k) != Some(v))) {
        return (
            vec!["node(s) didn't match Pod's node affinity/selector"],
            false,
        );
    }
    let mut reasons = Vec::new();
    if used.pods + 1 > node.pods {
        reasons.push("Too many pods");
    }
    if want.cpu_millis > 0 && used.cpu_millis + want.cpu_millis > node.cpu_millis {
        reasons.push("Insufficient cpu");
    }
    if want.memory_bytes > 0 && used.memory_bytes + want.memory_bytes > node.memory_bytes {
        reasons.push("Insufficient memory");
    }
    (reasons, true)
}

fn summary(n: usize, counts: &BTreeMap<&str, usize>) -> String {
    let parts: Vec<String> = counts.iter().map(|(r, c)| format!("{c} {r}")).collect();
    format!("0/{n} nodes are available: {}.", parts.join(", "))
}

/// Where `pod` goes, given the nodes and what each already holds.
pub fn plan(pod: &Pod, nodes: &[NodeInfo], usage: &HashMap<String, Usage>) -> Decision {
    if nodes.is_empty() {
        return Decision::Unschedulable("no nodes available to schedule pods".into());
    }
    let want = requests(pod);
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    let mut preemption: BTreeMap<&str, usize> = BTreeMap::new();
    let mut best: Option<(i128, &NodeInfo)> = None;
    for node in nodes {
        let used = usage.get(&node.name).copied().unwrap_or_default();
        let (why, resources) = filter(pod, &want, node, &used);
        if why.is_empty() {
            // LeastAllocated: the most free share of cpu and memory, in per-mille.
            let free = |cap: i128, u: i128| if cap > 0 { (cap - u) * 1000 / cap } else { 0 };
            let score = free(node.cpu_millis, used.cpu_millis + want.cpu_millis)
                + free(node.memory_bytes, used.memory_bytes + want.memory_bytes);
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, node));
            }
            continue;
        }
        for r in why {
            *reasons.entry(r).or_default() += 1;
        }
        let p = if resources {
            "No preemption victims found for incoming pod"
        } else {
            "Preemption is not helpful for scheduling"
        };
        *preemption.entry(p).or_default() += 1;
    }
    match best {
        Some((_, node)) => Decision::Bind(node.name.clone()),
        None => Decision::Unschedulable(format!(
            "{} preemption: {}",
            summary(nodes.len(), &reasons),
            summary(nodes.len(), &preemption)
        )),
    }
}

/// Whether the scheduler should look at `pod` at all.
pub fn wants(pod: &Pod) -> bool {
    let spec = pod.spec.as_ref();
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    pod.metadata.deletion_timestamp.is_none()
        && !terminal
        && spec
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty)
        && spec
            .and_then(|s| s.scheduler_name.as_deref())
            .is_none_or(|n| n.is_empty() || n == NAME)
}

/// Where a bound pod counts: its node and requests.
type Placed = (String, Usage);

/// The requests of the bound, non-terminal pods on each node (kube-scheduler's NodeInfo
/// cache), kept as running totals from the Pod cache's changes in order, so a decision
/// does not sum every pod. Level-triggered: the informer turns a relist into deletions and
/// applications, and a new subscription starts with every cached pod, so the totals are
/// exact across relists and restarts.
#[derive(Debug, Default)]
pub struct Totals {
    /// Counted pods by uid.
    pods: HashMap<String, Placed>,
    /// The sum per node.
    nodes: HashMap<String, Usage>,
}

/// Where `pod` counts, if at all: bound to a node, not terminal.
fn placed(pod: &Pod) -> Option<Placed> {
    let terminal = matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let node = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())?;
    (!terminal).then(|| (node.to_owned(), requests(pod)))
}

impl Totals {
    /// Applies one change of the Pod cache; returns the pod's uid when the cache now shows
    /// it bound or gone (its assumption, if any, is over).
    pub fn apply(&mut self, change: &Change<Pod>) -> Option<String> {
        let pod = change.object();
        let uid = pod.metadata.uid.as_deref()?;
        let now = if change.is_deleted() {
            None
        } else {
            placed(pod)
        };
        let before = self.pods.get(uid);
        if before != now.as_ref() {
            if let Some((node, u)) = self.pods.remove(uid) {
                let total = self.nodes.entry(node.clone()).or_default();
                sub(total, &u);
                if *total == Usage::default() {
                    self.nodes.remove(&node);
                }
            }
            if let Some((node, u)) = now {
                add(self.nodes.entry(node.clone()).or_default(), &u);
                self.pods.insert(uid.to_owned(), (node, u));
            }
        }
        let bound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        (change.is_deleted() || bound).then(|| uid.to_owned())
    }

    /// The totals per node.
    pub fn usage(&self) -> &HashMap<String, Usage> {
        &self.nodes
    }
}

/// The scheduler's view of what is placed: the totals, the changes not yet applied to
/// them, and the pods it bound that the cache does not show bound yet (the assume cache).
struct Placement {
    changes: Subscription<Pod>,
    totals: Totals,
    assumed: HashMap<String, Placed>,
}

impl Placement {
    /// Applies the changes queued so far.
    fn catch_up(&mut self) {
        while let Ok(change) = self.changes.try_recv() {
            if let Some(uid) = self.totals.apply(&change) {
                self.assumed.remove(&uid);
            }
        }
    }

    /// Usage per node: the totals plus the assumed pods.
    fn usage(&mut self) -> HashMap<String, Usage> {
        self.catch_up();
        let mut out = self.totals.usage().clone();
        for (node, u) in self.assumed.values() {
            add(out.entry(node.clone()).or_default(), u);
        }
        out
    }
}

struct Context {
    client: Client,
    nodes: Store<Node>,
    placement: Mutex<Placement>,
    /// One decision at a time, so two pods never take the same free room.
    deciding: tokio::sync::Mutex<()>,
}

impl Context {
    fn placement(&self) -> std::sync::MutexGuard<'_, Placement> {
        self.placement
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn sub(u: &mut Usage, r: &Usage) {
    u.cpu_millis -= r.cpu_millis;
    u.memory_bytes -= r.memory_bytes;
    u.pods -= r.pods;
}

fn add(u: &mut Usage, r: &Usage) {
    u.cpu_millis += r.cpu_millis;
    u.memory_bytes += r.memory_bytes;
    u.pods += r.pods;
}

fn time(t: Timestamp) -> Time {
    Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

async fn event(client: &Client, pod: &Pod, warning: bool, reason: &str, message: &str) {
    let now = Timestamp::now();
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ev = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.as_nanosecond())),
            namespace: Some(ns.clone()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: Some(ns.clone()),
            uid: pod.metadata.uid.clone(),
            resource_version: pod.metadata.resource_version.clone(),
            field_path: None,
        },
        reason: Some(reason.into()),
        message: Some(message.into()),
        source: Some(EventSource {
            component: Some(NAME.into()),
            host: None,
        }),
        first_timestamp: Some(time(now)),
        last_timestamp: Some(time(now)),
        count: Some(1),
        type_: Some(if warning { "Warning" } else { "Normal" }.into()),
        reporting_component: Some(NAME.into()),
        reporting_instance: Some(NAME.into()),
        ..Default::default()
    };
    if let Err(e) = Api::<Event>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &ev)
        .await
    {
        tracing::debug!(error = %e, "recording a scheduler event failed");
    }
}

async fn reconcile(pod: Arc<Pod>, ctx: Arc<Context>) -> Result<Next> {
    if !wants(&pod) {
        return Ok(Next::AwaitChange);
    }
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod
        .metadata
        .name
        .clone()
        .ok_or(Error::MissingField("metadata.name"))?;
    let uid = pod
        .metadata
        .uid
        .clone()
        .ok_or(Error::MissingField("metadata.uid"))?;
    let api = Api::<Pod>::namespaced(ctx.client.clone(), &ns);
    let _turn = ctx.deciding.lock().await;
    let usage = {
        let mut placement = ctx.placement();
        placement.catch_up();
        if placement.assumed.contains_key(&uid) {
            return Ok(Next::AwaitChange);
        }
        placement.usage()
    };
    let nodes: Vec<NodeInfo> = ctx.nodes.state().iter().map(|n| node_info(n)).collect();
    match plan(&pod, &nodes, &usage) {
        Decision::Bind(node) => {
            // Assumed before the binding is sent, so that its watch event, whenever it
            // comes, ends the assumption.
            ctx.placement()
                .assumed
                .insert(uid.clone(), (node.clone(), requests(&pod)));
            let binding = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": name, "namespace": ns, "uid": uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            let bound: kube::Result<serde_json::Value> = api
                .create_subresource("binding", &name, &PostParams::default(), &binding)
                .await;
            if let Err(e) = bound {
                ctx.placement().assumed.remove(&uid);
                return match e {
                    kube::Error::Api(s) if s.code == 409 || s.code == 404 => Ok(Next::AwaitChange),
                    e => Err(e.into()),
                };
            }
            let msg = format!("Successfully assigned {ns}/{name} to {node}");
            event(&ctx.client, &pod, false, "Scheduled", &msg).await;
            Ok(Next::AwaitChange)
        }
        Decision::Unschedulable(message) => {
            let old = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            let same = old.iter().any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.message.as_deref() == Some(message.as_str())
            });
            if !same {
                let mut conds: Vec<serde_json::Value> = old
                    .iter()
                    .filter(|c| c.type_ != "PodScheduled")
                    .filter_map(|c| serde_json::to_value(c).ok())
                    .collect();
                conds.push(json!({
                    "type": "PodScheduled", "status": "False", "lastProbeTime": null,
                    "lastTransitionTime": time(Timestamp::now()),
                    "reason": "Unschedulable", "message": message,
                }));
                let pp = PatchParams {
                    field_manager: Some(NAME.into()),
                    ..Default::default()
                };
                match api
                    .patch_status(
                        &name,
                        &pp,
                        &Patch::Merge(json!({"status": {"conditions": conds}})),
                    )
                    .await
                {
                    Ok(_) => {}
                    Err(kube::Error::Api(s)) if s.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
                event(&ctx.client, &pod, true, "FailedScheduling", &message).await;
            }
            Ok(Next::After(RETRY))
        }
    }
}

/// Retries of a failed scheduling: kube-scheduler's pod backoff (1 s doubling to 10 s).
const BACKOFF: RateLimit = RateLimit {
    base: Duration::from_secs(1),
    max: Duration::from_secs(10),
};

/// Runs the scheduler over the shared Pod and Node caches until `shutdown` is cancelled:
/// every pod change is applied to the placement and, for a pod waiting for a node, adds
/// its key to a [`WorkQueue`]; a node's change adds every waiting pod. Each key is
/// scheduled by one worker task at a time, against the pod as cached when it starts.
pub async fn run(client: Client, informers: Informers, shutdown: CancellationToken) {
    let pods = informers.pods.store();
    let ctx = Arc::new(Context {
        client,
        nodes: informers.nodes.store(),
        placement: Mutex::new(Placement {
            changes: informers.pods.subscribe(),
            totals: Totals::default(),
            assumed: HashMap::new(),
        }),
        deciding: tokio::sync::Mutex::new(()),
    });
    let queue = WorkQueue::new(BACKOFF);
    let feed = async {
        let mut changes = futures::stream::select(
            informers.pods.subscribe().map(Some),
            // A node that appears or changes may fit the pods waiting for one.
            informers.nodes.subscribe().map(|_| None),
        );
        loop {
            let change = tokio::select! {
                () = shutdown.cancelled() => return,
                change = changes.next() => change,
            };
            match change {
                None => return,
                Some(Some(change)) => {
                    // Every pod change: keep the placement's queue of changes short.
                    ctx.placement().catch_up();
                    if let Change::Applied(pod) = change
                        && wants(&pod)
                    {
                        queue.add(informer::key(pod.as_ref()));
                    }
                }
                Some(None) => {
                    for p in pods.state().iter().filter(|p| wants(p)) {
                        queue.add(informer::key(p.as_ref()));
                    }
                }
            }
        }
    };
    let ready = informers.pods.readiness();
    let work = async {
        queue
            .run_workers_when_ready(ready.wait(), &shutdown, |key: ObjectRef<Pod>| {
                let (ctx, pods) = (Arc::clone(&ctx), pods.clone());
                async move {
                    let Some(pod) = pods.get(&key) else {
                        return Next::AwaitChange;
                    };
                    reconcile(pod, ctx).await.unwrap_or_else(|e| {
                        tracing::warn!(pod = %key.name, error = %e, "scheduling failed; retrying");
                        Next::Retry
                    })
                }
            })
            .await;
    };
    tokio::join!(feed, work);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: i128, mem: i128) -> NodeInfo {
        NodeInfo {
            name: name.into(),
            labels: BTreeMap::from([("disk".to_owned(), "ssd".to_owned())]),
            ready: true,
            unschedulable: false,
            cpu_millis: cpu,
            memory_bytes: mem,
            pods: 110,
        }
    }

    fn pod(extra: serde_json::Value) -> Pod {
        let mut v = json!({"metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]}});
        if let (Some(spec), Some(extra)) = (v["spec"].as_object_mut(), extra.as_object()) {
            for (k, val) in extra {
                spec.insert(k.clone(), val.clone());
            }
        }
        serde_json::from_value(v).unwrap_or_default()
    }

    const GI: i128 = 1 << 30;

    #[test]
    fn decisions() {
        let none = HashMap::new();
        let busy = HashMap::from([(
            "a".to_owned(),
            Usage {
                cpu_millis: 1800,
                memory_bytes: 0,
                pods: 3,
            },
        )]);
        type Case<'a> = (
            &'a str,
            Pod,
            Vec<NodeInfo>,
            &'a HashMap<String, Usage>,
            Decision,
        );
        let cases: Vec<Case> = vec![
            ("fits", pod(json!({})), vec![node("a", 2000, 8 * GI)], &none, Decision::Bind("a".into())),
            ("no nodes", pod(json!({})), vec![], &none, Decision::Unschedulable("no nodes available to schedule pods".into())),
            (
                "memory",
                pod(json!({})),
                vec![node("a", 2000, GI / 2)],
                &none,
                Decision::Unschedulable("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()),
            ),
            (
                "cpu used by others",
                pod(json!({})),
                vec![node("a", 2000, 8 * GI)],
                &busy,
                Decision::Unschedulable("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()),
            ),
            ("least allocated", pod(json!({})), vec![node("a", 2000, 8 * GI), node("b", 2000, 8 * GI)], &busy, Decision::Bind("b".into())),
            (
                "selector",
                pod(json!({"nodeSelector": {"disk": "hdd"}})),
                vec![
                    node("a", 2000, 8 * GI),
                    NodeInfo {
                        labels: BTreeMap::from([("disk".to_owned(), "hdd".to_owned())]),
                        ..node("b", 100, GI / 2)
                    },
                ],
                &none,
                Decision::Unschedulable("0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.".into()),
            ),
            ("selector match", pod(json!({"nodeSelector": {"disk": "ssd"}})), vec![node("a", 2000, 8 * GI)], &none, Decision::Bind("a".into())),
            (
                "not ready",
                pod(json!({})),
                vec![NodeInfo { ready: false, ..node("a", 2000, 8 * GI) }],
                &none,
                Decision::Unschedulable("0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()),
            ),
        ];
        for (what, p, nodes, usage, want) in cases {
            assert_eq!(plan(&p, &nodes, usage), want, "{what}");
        }
    }

    #[test]
    fn totals_follow_the_cache() {
        use Change::{Applied, Deleted};
        let on = |name: &str, uid: &str, node: &str, phase: &str| {
            let mut p = pod(json!({"nodeName": node}));
            p.metadata.name = Some(name.into());
            p.metadata.uid = Some(uid.into());
            if !phase.is_empty() {
                p.status = Some(k8s_openapi::api::core::v1::PodStatus {
                    phase: Some(phase.into()),
                    ..Default::default()
                });
            }
            Arc::new(p)
        };
        let pending = || {
            let mut p = pod(json!({}));
            p.metadata.uid = Some("u1".into());
            Arc::new(p)
        };
        let u = |n: i128| Usage {
            cpu_millis: 500 * n,
            memory_bytes: GI * n,
            pods: n,
        };
        // (case, changes, usage per node, uids whose assumption ends)
        type Case = (
            &'static str,
            Vec<Change<Pod>>,
            Vec<(&'static str, Usage)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                "pending pods count nowhere",
                vec![Applied(pending())],
                vec![],
                vec![],
            ),
            (
                "bound pods count on their node",
                vec![
                    Applied(pending()),
                    Applied(on("a", "u1", "n1", "Running")),
                    Applied(on("b", "u2", "n1", "")),
                    Applied(on("c", "u3", "n2", "Pending")),
                ],
                vec![("n1", u(2)), ("n2", u(1))],
                vec!["u1", "u2", "u3"],
            ),
            (
                "an update counts once",
                vec![
                    Applied(on("a", "u1", "n1", "Pending")),
                    Applied(on("a", "u1", "n1", "Running")),
                ],
                vec![("n1", u(1))],
                vec!["u1", "u1"],
            ),
            (
                "terminal pods leave the totals",
                vec![
                    Applied(on("a", "u1", "n1", "Running")),
                    Applied(on("b", "u2", "n1", "Running")),
                    Applied(on("a", "u1", "n1", "Succeeded")),
                    Applied(on("b", "u2", "n1", "Failed")),
                ],
                vec![],
                vec!["u1", "u2", "u1", "u2"],
            ),
            (
                "deleted, and deleted before it was seen bound",
                vec![
                    Applied(on("a", "u1", "n1", "Running")),
                    Applied(on("b", "u2", "n1", "Running")),
                    Deleted(on("a", "u1", "n1", "Running")),
                    Deleted(pending()),
                ],
                vec![("n1", u(1))],
                vec!["u1", "u2", "u1", "u1"],
            ),
            (
                "a relist: deletions of vanished pods, then every listed one again",
                vec![
                    Applied(on("a", "u1", "n1", "Running")),
                    Applied(on("b", "u2", "n1", "Running")),
                    Deleted(on("b", "u2", "n1", "Running")),
                    Applied(on("a", "u1", "n1", "Running")),
                    Applied(on("c", "u3", "n2", "Running")),
                ],
                vec![("n1", u(1)), ("n2", u(1))],
                vec!["u1", "u2", "u2", "u1", "u3"],
            ),
        ];
        for (name, changes, want, ended) in cases {
            let mut t = Totals::default();
            let got_ended: Vec<String> = changes.iter().filter_map(|c| t.apply(c)).collect();
            let want: HashMap<String, Usage> =
                want.into_iter().map(|(n, u)| (n.to_owned(), u)).collect();
            assert_eq!(t.usage(), &want, "{name}");
            assert_eq!(got_ended, ended, "{name}");
        }
    }

    #[test]
    fn requests_count_init_containers_and_which_pods_are_wanted() {
        let p = pod(
            json!({"initContainers": [{"name": "i", "image": "x", "resources": {"requests": {"cpu": "2", "memory": "1Mi"}}}]}),
        );
        assert_eq!(
            requests(&p),
            Usage {
                cpu_millis: 2000,
                memory_bytes: GI,
                pods: 1
            }
        );
        assert!(wants(&p));
        assert!(!wants(&pod(json!({"nodeName": "a"}))));
        assert!(!wants(&pod(json!({"schedulerName": "other"}))));
        assert!(wants(&pod(json!({"schedulerName": "default-scheduler"}))));
    }
}
