//! Node Leases (`coordination.k8s.io/v1` in `kube-node-lease`) as kubectl sees them: the
//! agent's Lease listed with its holder, renewed, owned by its Node and shown by `kubectl
//! describe node`; hand-made Leases validated in Kubernetes' words.

use serde_json::Value;

use crate::harness::{Server, eventually, kubectl_available, rows};

const NODE: &str = "lease-node";

fn lease_json(s: &Server) -> Option<Value> {
    let r = s.kubectl(&["get", "lease", NODE, "-n", "kube-node-lease", "-o", "json"]);
    r.success
        .then(|| serde_json::from_str(&r.stdout).ok())
        .flatten()
}

#[test]
fn the_node_lease_is_listed_renewed_owned_and_described() {
    if !kubectl_available() {
        return;
    }
    let mut s = Server::start_with(&["--node-name", NODE]);
    eventually("the node's lease", || lease_json(&s).is_some());

    let out = s.ok(&["get", "lease", "-n", "kube-node-lease"]);
    let table = rows(&out);
    assert_eq!(table[0], ["NAME", "HOLDER", "AGE"], "{out}");
    assert_eq!(table[1][..2], [NODE, NODE], "{out}");
    let out = s.ok(&["get", "leases", "-A"]);
    let table = rows(&out);
    assert_eq!(table[0], ["NAMESPACE", "NAME", "HOLDER", "AGE"], "{out}");
    assert!(
        table
            .iter()
            .any(|r| r[..3] == ["kube-node-lease", NODE, NODE]),
        "{out}"
    );

    let lease = lease_json(&s).expect("lease");
    let spec = &lease["spec"];
    assert_eq!(spec["holderIdentity"], NODE, "{lease}");
    assert_eq!(spec["leaseDurationSeconds"], 40, "{lease}");
    assert!(spec.get("acquireTime").is_none(), "{lease}");
    let first_renewal = spec["renewTime"].as_str().expect("renewTime").to_owned();
    let node: Value =
        serde_json::from_str(&s.ok(&["get", "node", NODE, "-o", "json"])).expect("node json");
    let owners = &lease["metadata"]["ownerReferences"];
    assert_eq!(owners.as_array().map(Vec::len), Some(1), "{lease}");
    assert_eq!(owners[0]["apiVersion"], "v1");
    assert_eq!(owners[0]["kind"], "Node");
    assert_eq!(owners[0]["name"], NODE);
    assert_eq!(owners[0]["uid"], node["metadata"]["uid"], "{lease}");

    let out = s.ok(&["describe", "node", NODE]);
    assert!(!out.contains("Failed to get lease"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_end() == "Lease:")
        .unwrap_or_else(|| panic!("no Lease section in\n{out}"));
    let field = |i: usize, name: &str| {
        let l = lines.get(at + i).copied().unwrap_or_default();
        let value = l.trim().strip_prefix(name).map(str::trim);
        assert!(
            value.is_some(),
            "line {i} of the Lease section is not {name}:\n{out}"
        );
        value.unwrap_or_default().to_owned()
    };
    assert_eq!(field(1, "HolderIdentity:"), NODE);
    assert_eq!(field(2, "AcquireTime:"), "<unset>");
    assert!(field(3, "RenewTime:").contains(" +0000"), "{out}");

    // Renewed every 10 s: the renew time moves on (with a deadline, never a threshold).
    eventually("a lease renewal", || {
        lease_json(&s).is_some_and(|l| {
            l["spec"]["renewTime"]
                .as_str()
                .is_some_and(|t| t > first_renewal.as_str())
        })
    });

    // After a restart the agent renews the same Lease (read, then renewed), not a new one.
    let before = lease_json(&s).expect("lease");
    s.restart();
    eventually("a renewal after the restart", || {
        lease_json(&s)
            .is_some_and(|l| l["spec"]["renewTime"].as_str() > before["spec"]["renewTime"].as_str())
    });
    let after = lease_json(&s).expect("lease");
    assert_eq!(
        after["metadata"]["uid"], before["metadata"]["uid"],
        "{after}"
    );
    let out = s.ok(&["get", "leases", "-n", "kube-node-lease", "-o", "name"]);
    assert_eq!(
        out.trim(),
        format!("lease.coordination.k8s.io/{NODE}"),
        "{out}"
    );
}

#[test]
fn explain_and_hand_made_leases() {
    if !kubectl_available() {
        return;
    }
    let s = Server::start_with(&["--node-name", NODE]);
    let out = s.ok(&["explain", "lease.spec"]);
    assert!(out.contains("coordination.k8s.io"), "{out}");
    assert!(
        out.contains("holderIdentity")
            && out.contains("leaseDurationSeconds")
            && out.contains("renewTime"),
        "{out}"
    );
    let out = s.ok(&["api-resources", "--api-group", "coordination.k8s.io"]);
    assert!(
        rows(&out)
            .iter()
            .any(|r| r == &["leases", "coordination.k8s.io/v1", "true", "Lease"]),
        "{out}"
    );

    let bad = r#"{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "bad"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 0}}"#;
    let r = s.kubectl_stdin(&["create", "-f", "-"], bad.as_bytes());
    assert!(!r.success, "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "The Lease \"bad\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        "{r:?}"
    );
    let r = s.kubectl(&[
        "get",
        "--raw",
        "/apis/coordination.k8s.io/v1/namespaces/default/leases/bad",
    ]);
    assert!(!r.success, "the invalid lease was stored: {r:?}");

    let good = r#"{"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "mine"}, "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15,
        "strategy": "OldestEmulationVersion"}}"#;
    let r = s.kubectl_stdin(&["create", "-f", "-"], good.as_bytes());
    assert!(r.success, "{r:?}");
    let out = s.ok(&["get", "lease", "mine", "-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["spec"]["holderIdentity"], "me");
    // The CoordinatedLeaderElection gate is off in v1.33: the strategy is dropped.
    assert!(v["spec"].get("strategy").is_none(), "{out}");

    s.ok(&[
        "patch",
        "lease",
        "mine",
        "--type",
        "merge",
        "-p",
        r#"{"spec": {"holderIdentity": "you", "leaseTransitions": 1}}"#,
    ]);
    let r = s.kubectl(&[
        "patch",
        "lease",
        "mine",
        "--type",
        "merge",
        "-p",
        r#"{"spec": {"leaseTransitions": -1}}"#,
    ]);
    assert!(!r.success);
    assert!(
        r.stderr.contains(
            "spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"
        ),
        "{r:?}"
    );
    let out = s.ok(&["get", "lease", "mine"]);
    assert_eq!(rows(&out)[1][..2], ["mine", "you"], "{out}");
    s.ok(&["delete", "lease", "mine"]);
    let out = s.kubectl(&["get", "lease", "mine"]);
    assert!(
        out.stderr
            .contains("leases.coordination.k8s.io \"mine\" not found"),
        "{out:?}"
    );
}
