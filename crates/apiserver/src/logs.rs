//! `GET /api/v1/namespaces/NS/pods/NAME/log`: the apiserver's half of `kubectl logs`.
//!
//! The apiserver parses and validates the `PodLogOptions` and picks the container as the real
//! `pod.LogLocation` does (the messages are upstream's); the bytes come from a [`PodLogs`]
//! provider that the node agent implements (the kubelet's half: which run of the container,
//! its "waiting to start" errors, following). The apiserver knows nothing of the agent.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::request::{Query, Target};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::{StatusCode, header};
use jiff::Timestamp;
use serde_json::Value;

pub use api::logs::{LogError, LogOptions};

/// The log bytes, as they become available.
pub type LogStream = BoxStream<'static, std::io::Result<Bytes>>;

/// The node side of the log endpoint: opens the logs of `container` in `pod` (the pod
/// object as stored, with its status).
pub trait PodLogs: Send + Sync {
    /// Opens the logs; `opts` is already validated.
    fn open(&self, pod: &Value, container: &str, opts: &LogOptions) -> Result<LogStream, LogError>;
}

fn invalid(name: &str, errors: &[String]) -> ApiError {
    let message = match errors {
        [one] => format!("PodLogOptions \"{name}\" is invalid: {one}"),
        many => format!("PodLogOptions \"{name}\" is invalid: [{}]", many.join(", ")),
    };
    ApiError::Raw {
        code: 422,
        reason: "Invalid",
        message,
    }
}

/// Parses the query as `PodLogOptions` and validates it (`ValidatePodLogOptions`).
pub fn parse_options(q: &Query, name: &str, now: Timestamp) -> ApiResult<LogOptions> {
    let tail = q.int("tailLines")?;
    let since_seconds = q.int("sinceSeconds")?;
    let limit = q.int("limitBytes")?;
    let since_time = match q.get("sinceTime").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<Timestamp>()
                .map_err(|e| ApiError::BadRequest(format!("parsing time {s:?} as RFC3339: {e}")))?,
        ),
    };
    let mut errors = Vec::new();
    if let Some(t) = tail.filter(|t| *t < 0) {
        errors.push(format!(
            "tailLines: Invalid value: {t}: must be greater than or equal to 0"
        ));
    }
    if let Some(l) = limit.filter(|l| *l < 1) {
        errors.push(format!(
            "limitBytes: Invalid value: {l}: must be greater than 0"
        ));
    }
    match (since_seconds, since_time) {
        (Some(_), Some(_)) => errors.push(
            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".into(),
        ),
        (Some(s), None) if s < 1 => {
            errors.push(format!(
                "sinceSeconds: Invalid value: {s}: must be greater than 0"
            ));
        }
        _ => {}
    }
    if !errors.is_empty() {
        return Err(invalid(name, &errors));
    }
    let since = match (since_seconds, since_time) {
        (Some(s), _) => now.checked_sub(jiff::SignedDuration::from_secs(s)).ok(),
        (None, t) => t,
    };
    Ok(LogOptions {
        previous: q.flag("previous"),
        follow: q.flag("follow"),
        tail_lines: tail.and_then(|t| u64::try_from(t).ok()),
        since,
        limit_bytes: limit.and_then(|l| u64::try_from(l).ok()),
        timestamps: q.flag("timestamps"),
    })
}

fn names(pod: &Value, list: &str) -> Vec<String> {
    pod.get("spec")
        .and_then(|s| s.get(list))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `validateContainer`: the named container must exist; without a name, the only one.
pub fn pick_container(pod: &Value, name: &str, asked: Option<&str>) -> ApiResult<String> {
    let containers = names(pod, "containers");
    let mut all = names(pod, "initContainers");
    all.extend(containers.iter().cloned());
    all.extend(names(pod, "ephemeralContainers"));
    match asked.filter(|c| !c.is_empty()) {
        Some(c) if all.iter().any(|n| n == c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::BadRequest(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None => match containers.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))),
        },
    }
}

fn text(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/plain"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        body,
    )
        .into_response()
}

/// Serves the log subresource.
pub fn get(state: &AppState, t: &Target, q: &Query) -> ApiResult<Response> {
    let name = t.name.as_deref().unwrap_or_default();
    let pod = state
        .registry
        .get_value(t.resource, t.namespace.as_deref(), name)?;
    let opts = parse_options(q, name, state.registry.now())?;
    let container = pick_container(&pod, name, q.get("container"))?;
    let bound = pod
        .get("spec")
        .and_then(|s| s.get("nodeName"))
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if !bound {
        // No node yet: the real server answers an empty body.
        return Ok(text(Body::empty()));
    }
    let Some(provider) = &state.pod_logs else {
        return Err(ApiError::BadRequest(format!(
            "container logs for pod {name} are not available: no node agent is running"
        )));
    };
    let stream = provider
        .open(&pod, &container, &opts)
        .map_err(|e| match e {
            LogError::BadRequest(m) => ApiError::BadRequest(m),
            LogError::Internal(m) => ApiError::Internal(m),
        })?;
    let shutdown = state.shutdown.clone();
    let stream = stream.take_until(async move { shutdown.cancelled().await });
    Ok(text(Body::from_stream(stream)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_choice() {
        let pod = json!({"spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(
            pick_container(&pod, "p", None).map_err(|e| e.to_string()),
            Err("a container name must be specified for pod p, choose one of: [i a b]".into())
        );
        assert_eq!(pick_container(&pod, "p", Some("i")).ok(), Some("i".into()));
        assert_eq!(
            pick_container(&pod, "p", Some("x")).map_err(|e| e.to_string()),
            Err("container x is not valid for pod p".into())
        );
        let one = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(pick_container(&one, "p", None).ok(), Some("a".into()));
    }

    #[test]
    fn options() {
        let now = Timestamp::from_second(1_700_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let q = Query::parse(Some(
            "tailLines=5&follow=true&sinceSeconds=10&timestamps=true",
        ));
        let o = parse_options(&q, "p", now).ok();
        assert_eq!(
            o,
            Some(LogOptions {
                previous: false,
                follow: true,
                tail_lines: Some(5),
                since: Timestamp::from_second(1_699_999_990).ok(),
                limit_bytes: None,
                timestamps: true,
            })
        );
        let q = Query::parse(Some("sinceSeconds=0&limitBytes=0"));
        assert_eq!(
            parse_options(&q, "p", now).map_err(|e| e.to_string()),
            Err("PodLogOptions \"p\" is invalid: [limitBytes: Invalid value: 0: must be greater than 0, sinceSeconds: Invalid value: 0: must be greater than 0]".into())
        );
    }
}
