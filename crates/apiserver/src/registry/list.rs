//! Lists: label and field selectors, `limit` and `continue` (consistent pages at one
//! revision), and `resourceVersion` semantics.

use super::Registry;
use crate::error::{ApiError, ApiResult};
use crate::object::{self, from_stored};
use crate::request::Query;
use api::fields::FieldSelector;
use api::resource::ResourceInfo;
use api::selector::LabelSelector;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Which objects a list or watch wants.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `labelSelector`.
    pub labels: Option<LabelSelector>,
    /// `fieldSelector`.
    pub fields: Option<FieldSelector>,
}

impl Filter {
    /// Reads and checks the selectors of a request for `r`.
    pub fn from_query(r: &ResourceInfo, q: &Query) -> ApiResult<Filter> {
        let labels = match q.get("labelSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                Some(LabelSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?)
            }
            None => None,
        };
        let fields = match q.get("fieldSelector").filter(|s| !s.is_empty()) {
            Some(s) => {
                let f = FieldSelector::parse(s).map_err(|e| ApiError::BadRequest(e.to_string()))?;
                let f = f
                    .convert(r.plural)
                    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
                Some(f)
            }
            None => None,
        };
        Ok(Filter {
            labels: labels.filter(|l| !l.is_empty()),
            fields: fields.filter(|f| !f.is_empty()),
        })
    }

    /// Whether every object matches (no parsing needed).
    pub fn is_everything(&self) -> bool {
        self.labels.is_none() && self.fields.is_none()
    }

    /// Whether the parsed object `obj` of resource `r` matches.
    pub fn matches(&self, r: &ResourceInfo, obj: &Value) -> bool {
        if let Some(l) = &self.labels {
            let labels: BTreeMap<String, String> = obj
                .get("metadata")
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            if !l.matches(&labels) {
                return false;
            }
        }
        if let Some(f) = &self.fields
            && !f.matches(&api::fields::selectable_fields(r.plural, obj))
        {
            return false;
        }
        true
    }

    /// Whether stored bytes match (parses only when a selector needs it).
    pub fn matches_stored(&self, r: &ResourceInfo, stored: &[u8]) -> ApiResult<bool> {
        if self.is_everything() {
            return Ok(true);
        }
        let obj = from_stored(stored, 0)?;
        Ok(self.matches(r, &obj))
    }
}

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    /// Matching objects: stored bytes and revision.
    pub items: Vec<store::KeyValue>,
    /// The revision the page reflects.
    pub revision: u64,
    /// Token for the next page, if `limit` cut the list.
    pub continue_token: Option<String>,
}

fn encode_continue(rev: u64, start: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": "meta.k8s.io/v1", "rv": rev, "start": start}).to_string())
}

fn decode_continue(token: &str) -> ApiResult<(u64, String)> {
    let bad = |m: &str| {
        ApiError::BadRequest(format!(
            "invalid continue token: continue key is not valid: {m}"
        ))
    };
    let raw = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("invalid token"))?;
    if v["v"] != "meta.k8s.io/v1" {
        return Err(bad("server does not recognize this encoded key"));
    }
    let rev = v["rv"]
        .as_u64()
        .ok_or_else(|| bad("invalid resource version"))?;
    let start = v["start"]
        .as_str()
        .ok_or_else(|| bad("invalid start"))?
        .to_owned();
    Ok((rev, start))
}

impl Registry {
    /// Lists `r` in `ns` (or everywhere) with the request's selectors and paging.
    pub fn list(
        &self,
        r: &'static ResourceInfo,
        ns: Option<&str>,
        q: &Query,
        filter: &Filter,
    ) -> ApiResult<Page> {
        let prefix = object::prefix(r, ns);
        let limit = q.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
        let (mut revision, mut start_after) = (None, None);
        if let Some(token) = q.get("continue").filter(|t| !t.is_empty()) {
            let (rev, start) = decode_continue(token)?;
            if q.get("resourceVersion")
                .is_some_and(|v| !v.is_empty() && v != "0")
            {
                return Err(ApiError::BadRequest(
                    "specifying resource version is not allowed when using continue".into(),
                ));
            }
            revision = Some(rev);
            start_after = Some(start);
        } else if q.get("resourceVersionMatch") == Some("Exact") {
            let rv = q.get("resourceVersion").unwrap_or_default();
            revision =
                Some(rv.parse::<u64>().map_err(|_| {
                    ApiError::BadRequest(format!("invalid resource version: {rv:?}"))
                })?);
        } else if let Some(rv) = q
            .get("resourceVersion")
            .filter(|v| !v.is_empty() && *v != "0")
        {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}")))?;
            let current = self.store.current_revision();
            if rv > current {
                return Err(ApiError::TooLargeResourceVersion {
                    requested: rv,
                    current,
                });
            }
        }
        let mut items = Vec::new();
        let batch = limit.map(|l| l.max(500)).unwrap_or(0);
        loop {
            let res = self.store.list(
                &prefix,
                &store::ListOptions {
                    revision,
                    limit: (batch > 0).then_some(batch),
                    start_after: start_after.clone(),
                },
            );
            let res = match res {
                Err(store::Error::Expired { .. }) if q.get("continue").is_some() => {
                    return Err(ApiError::Expired(
                        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                    ));
                }
                other => other?,
            };
            revision = Some(res.revision);
            let mut last = None;
            let mut cut = false;
            for kv in res.items {
                last = Some(kv.key.clone());
                if filter.matches_stored(r, &kv.value)? {
                    items.push(kv);
                    if limit.is_some_and(|l| items.len() >= l) {
                        cut = true;
                        break;
                    }
                }
            }
            if cut {
                let more = res.more || last.as_ref() != items.last().map(|kv| &kv.key) || {
                    // Is there anything after the last item at this revision?
                    let probe = self.store.list(
                        &prefix,
                        &store::ListOptions {
                            revision,
                            limit: Some(1),
                            start_after: items.last().map(|kv| kv.key.clone()),
                        },
                    )?;
                    !probe.items.is_empty()
                };
                let token = more
                    .then(|| {
                        items
                            .last()
                            .map(|kv| encode_continue(res.revision, &kv.key))
                    })
                    .flatten();
                return Ok(Page {
                    items,
                    revision: res.revision,
                    continue_token: token,
                });
            }
            if !res.more {
                return Ok(Page {
                    items,
                    revision: res.revision,
                    continue_token: None,
                });
            }
            start_after = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, "/batch/jobs/default/a");
        assert_eq!(
            decode_continue(&t).expect("token"),
            (42, "/batch/jobs/default/a".to_owned())
        );
        assert!(decode_continue("!!!").is_err());
    }
}
