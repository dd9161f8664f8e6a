//! `POST .../pods/NAME/binding`: assigns a pod to a node (`BindingREST`), the scheduler's one
//! write. It sets `spec.nodeName` (which no update may change) and the `PodScheduled`
//! condition, so it bypasses pod update validation, as the real registry does.

use super::{Registry, rfc3339};
use crate::error::{ApiError, ApiResult};
use crate::object::{from_stored, key, meta_mut, meta_str, to_stored};
use api::resource::ResourceInfo;
use serde_json::{Value, json};

fn conflict(name: &str, detail: String) -> ApiError {
    ApiError::Raw {
        code: 409,
        reason: "Conflict",
        message: format!("Operation cannot be fulfilled on pods/binding \"{name}\": {detail}"),
    }
}

impl Registry {
    /// Binds pod `name` in `ns` as `binding` (a `v1.Binding`) asks.
    pub async fn bind_pod(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        name: &str,
        binding: &Value,
    ) -> ApiResult<()> {
        if meta_str(binding, "name").is_some_and(|n| n != name) {
            return Err(ApiError::BadRequest(
                "name in URL does not match name in Binding object".into(),
            ));
        }
        let target = binding.get("target").cloned().unwrap_or_default();
        let node = target.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = target.get("kind").and_then(Value::as_str).unwrap_or("");
        if !kind.is_empty() && kind != "Node" {
            return Err(ApiError::BadRequest(format!(
                "binding target kind must be \"Node\", not {kind:?}"
            )));
        }
        if node.is_empty() {
            return Err(ApiError::Raw {
                code: 422,
                reason: "Invalid",
                message: format!("Binding \"{name}\" is invalid: target.name: Required value"),
            });
        }
        let kv = self.get_raw(r, ns, name)?;
        let mut pod = from_stored(&kv.value, kv.mod_revision)?;
        if let Some(uid) = binding
            .get("metadata")
            .and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            && Some(uid) != meta_str(&pod, "uid")
        {
            return Err(conflict(
                name,
                format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&pod, "uid").unwrap_or_default()
                ),
            ));
        }
        if meta_str(&pod, "deletionTimestamp").is_some() {
            return Err(conflict(
                name,
                format!("pod {name} is being deleted, cannot be assigned to a host"),
            ));
        }
        let current = pod
            .get("spec")
            .and_then(|s| s.get("nodeName"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !current.is_empty() {
            return Err(conflict(
                name,
                format!("pod {name} is already assigned to node \"{current}\""),
            ));
        }
        pod["spec"]["nodeName"] = json!(node);
        if let Some(a) = binding
            .get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(Value::as_object)
        {
            let m = meta_mut(&mut pod);
            let anns = m.entry("annotations").or_insert_with(|| json!({}));
            for (k, v) in a {
                anns[k] = v.clone();
            }
        }
        set_scheduled(&mut pod, &rfc3339(self.now()));
        let stored = to_stored(&pod)?;
        self.store()
            .update(&key(r, ns, name), stored, Some(kv.mod_revision))
            .await
            .map_err(|e| self.write_error(r, name, e))?;
        Ok(())
    }
}

/// `UpdatePodCondition(PodScheduled=True)`: the transition time changes only with the status.
fn set_scheduled(pod: &mut Value, now: &str) {
    if !pod.get("status").is_some_and(Value::is_object) {
        pod["status"] = json!({});
    }
    let status = &mut pod["status"];
    if !status.get("conditions").is_some_and(Value::is_array) {
        status["conditions"] = json!([]);
    }
    let Some(conds) = status["conditions"].as_array_mut() else {
        return;
    };
    let fresh = json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    match conds.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(c) if c["status"] == "True" => {}
        Some(c) => *c = fresh,
        None => conds.push(fresh),
    }
}
