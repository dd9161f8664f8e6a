//! The documents of `batchlet run`'s file: YAML or JSON documents to JSON objects, their
//! resource and namespace, and the Job `kubectl create job --from=cronjob/NAME` makes.
//! Pure functions; messages are kubectl's where kubectl has one.

use api::resource::ResourceInfo;
use serde::Deserialize;
use serde_json::{Value, json};

/// One document of the file.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Its position in the file, from 1, counting only non-empty documents.
    pub index: usize,
    /// The object as JSON.
    pub object: Value,
    /// The served resource of its kind.
    pub info: &'static ResourceInfo,
    /// `metadata.name` (or `generateName` when there is no name).
    pub name: String,
    /// The namespace it is created in (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
}

impl Doc {
    /// How kubectl names the object: `cronjob.batch/cj-hello`, `persistentvolumeclaim/data`.
    pub fn reference(&self) -> String {
        reference(self.info, &self.name)
    }
}

/// `kind.group/name` as kubectl prints it after `created`.
pub fn reference(info: &ResourceInfo, name: &str) -> String {
    let kind = info.kind.to_lowercase();
    if info.group.is_empty() {
        format!("{kind}/{name}")
    } else {
        format!("{kind}.{}/{name}", info.group)
    }
}

/// A document that cannot be sent: its index (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {index}: {message}")]
pub struct DocError {
    /// The document's index, from 1.
    pub index: usize,
    /// The message.
    pub message: String,
}

/// Splits `text` into its non-empty documents as JSON values (YAML is a superset of JSON).
pub fn parse(text: &str) -> Result<Vec<(usize, Value)>, DocError> {
    let mut docs = Vec::new();
    for de in serde_yaml_ng::Deserializer::from_str(text) {
        let value = Value::deserialize(de).map_err(|e| DocError {
            index: docs.len() + 1,
            message: format!("error converting YAML to JSON: {e}"),
        })?;
        if !value.is_null() {
            docs.push((docs.len() + 1, value));
        }
    }
    Ok(docs)
}

/// The resource, name and namespace of one document. `flag_ns` is `--namespace`.
pub fn resolve(index: usize, object: Value, flag_ns: Option<&str>) -> Result<Doc, DocError> {
    let err = |message: String| DocError { index, message };
    let Some(map) = object.as_object() else {
        return Err(err("the document is not an object".into()));
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let api_version = text(map.get("apiVersion"));
    let kind = text(map.get("kind"));
    let missing: Vec<&str> = [
        (api_version.is_empty(), "apiVersion not set"),
        (kind.is_empty(), "kind not set"),
    ]
    .into_iter()
    .filter_map(|(m, s)| m.then_some(s))
    .collect();
    if !missing.is_empty() {
        return Err(err(format!(
            "error validating data: [{}]",
            missing.join(", ")
        )));
    }
    let meta = map.get("metadata");
    let name = text(meta.and_then(|m| m.get("name")));
    let name = if name.is_empty() {
        text(meta.and_then(|m| m.get("generateName")))
    } else {
        name
    };
    let own_ns = text(meta.and_then(|m| m.get("namespace")));
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let Some(info) = api::resource::find_kind(group, version, &kind) else {
        return Err(err(format!(
            "resource mapping not found for name: \"{name}\" namespace: \"{own_ns}\": no matches for kind \"{kind}\" in version \"{api_version}\"\nensure CRDs are installed first"
        )));
    };
    let namespace = if info.namespaced {
        Some(namespace_for(&own_ns, flag_ns).map_err(err)?)
    } else {
        None
    };
    Ok(Doc {
        index,
        object,
        info,
        name,
        namespace,
    })
}

/// The namespace a namespaced object goes to, as kubectl decides it: its own, else the flag,
/// else `default`; its own and the flag must agree.
pub fn namespace_for(own: &str, flag: Option<&str>) -> Result<String, String> {
    match (own, flag) {
        ("", Some(f)) => Ok(f.to_owned()),
        ("", None) => Ok("default".to_owned()),
        (o, Some(f)) if o != f => Err(format!(
            "the namespace from the provided object \"{o}\" does not match the namespace \"{f}\". You must pass '--namespace={o}' to perform this operation."
        )),
        (o, _) => Ok(o.to_owned()),
    }
}

/// The Job `kubectl create job NAME --from=cronjob/CJ` creates from the stored CronJob `cj`:
/// the jobTemplate's spec, labels and annotations, `cronjob.kubernetes.io/instantiate:
/// manual`, and a controller reference to the CronJob.
pub fn job_from_cronjob(cj: &Value, name: &str) -> Value {
    let template = &cj["spec"]["jobTemplate"];
    let mut annotations = serde_json::Map::new();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    if let Some(a) = template["metadata"]["annotations"].as_object() {
        annotations.extend(a.clone());
    }
    let mut metadata = json!({
        "name": name,
        "annotations": annotations,
        "ownerReferences": [{
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": cj["metadata"]["name"],
            "uid": cj["metadata"]["uid"],
            "controller": true,
        }],
    });
    if let Some(l) = template["metadata"]["labels"].as_object() {
        metadata["labels"] = Value::Object(l.clone());
    }
    if let Some(ns) = cj["metadata"]["namespace"].as_str() {
        metadata["namespace"] = ns.into();
    }
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": template["spec"],
    })
}

/// The name of a manual run of CronJob `cj`: `<cj>-manual-<suffix>`, within the 63
/// characters a Job name may have (its pods' `job-name` label holds it).
pub fn manual_job_name(cj: &str, suffix: &str) -> String {
    let keep = 63 - "-manual-".len() - suffix.len();
    let base: String = cj.chars().take(keep).collect();
    format!("{}-manual-{suffix}", base.trim_end_matches('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_split_and_empty_ones_skipped() {
        let text = "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"b\"}}\n";
        let docs = parse(text).unwrap_or_default();
        let names: Vec<(usize, &str)> = docs
            .iter()
            .map(|(i, v)| (*i, v["metadata"]["name"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(names, [(1, "a"), (2, "b")]);
    }

    #[test]
    fn a_yaml_error_names_the_document() {
        let text = "kind: Namespace\n---\nkind: Job\nspec:\n  a: |\n    x\nall-databases > y\n";
        let e = parse(text).err().map(|e| e.index);
        assert_eq!(e, Some(2));
    }

    #[test]
    fn namespaces_as_kubectl_decides() {
        let table: &[(&str, Option<&str>, Result<&str, &str>)] = &[
            ("", None, Ok("default")),
            ("", Some("x"), Ok("x")),
            ("cronjob", None, Ok("cronjob")),
            ("cronjob", Some("cronjob"), Ok("cronjob")),
            (
                "cronjob",
                Some("x"),
                Err(
                    "the namespace from the provided object \"cronjob\" does not match the namespace \"x\". You must pass '--namespace=cronjob' to perform this operation.",
                ),
            ),
        ];
        for (own, flag, want) in table {
            let got = namespace_for(own, *flag);
            assert_eq!(
                got.as_deref().map_err(String::as_str),
                *want,
                "{own} {flag:?}"
            );
        }
    }

    #[test]
    fn resolve_finds_kinds_and_refuses_unknown_ones() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}});
        let d = resolve(1, job, None).ok();
        assert_eq!(
            d.as_ref().map(|d| (d.reference(), d.namespace.clone())),
            Some(("job.batch/j".to_owned(), Some("default".to_owned())))
        );
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d", "namespace": "cronjob"}});
        let d = resolve(2, pvc, None).ok();
        assert_eq!(
            d.map(|d| (d.reference(), d.namespace)),
            Some((
                "persistentvolumeclaim/d".to_owned(),
                Some("cronjob".to_owned())
            ))
        );
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}});
        assert_eq!(
            resolve(3, dep, None).err(),
            Some(DocError {
                index: 3,
                message: "resource mapping not found for name: \"x\" namespace: \"\": no matches for kind \"Deployment\" in version \"apps/v1\"\nensure CRDs are installed first".into()
            })
        );
        let bare = json!({"metadata": {"name": "x"}});
        assert_eq!(
            resolve(4, bare, None).err().map(|e| e.message),
            Some("error validating data: [apiVersion not set, kind not set]".into())
        );
    }

    #[test]
    fn a_manual_job_is_what_kubectl_create_job_from_makes() {
        let cj = json!({
            "metadata": {"name": "cj", "namespace": "ns", "uid": "u1"},
            "spec": {"jobTemplate": {
                "metadata": {"labels": {"a": "b"}, "annotations": {"x": "y"}},
                "spec": {"template": {"spec": {"containers": []}}}}}
        });
        let job = job_from_cronjob(&cj, "cj-manual-abcde");
        assert_eq!(
            job,
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "name": "cj-manual-abcde",
                    "annotations": {"cronjob.kubernetes.io/instantiate": "manual", "x": "y"},
                    "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "u1", "controller": true}],
                    "labels": {"a": "b"},
                    "namespace": "ns"
                },
                "spec": {"template": {"spec": {"containers": []}}}
            })
        );
    }

    #[test]
    fn manual_names_fit_in_63_characters() {
        assert_eq!(
            manual_job_name("cj-hello", "x1y2z"),
            "cj-hello-manual-x1y2z"
        );
        let long = "a".repeat(52);
        let n = manual_job_name(&long, "x1y2z");
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("a-manual-x1y2z"));
    }
}
