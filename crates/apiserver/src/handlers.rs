//! The REST handlers: one dispatcher for `/api/...` and `/apis/...` that turns a method and a
//! path into a registry call and the registry's answer into JSON or a Table.

use crate::AppState;
use crate::discovery;
use crate::error::{ApiError, ApiResult, MAX_REQUEST_BODY_BYTES};
use crate::object::{REVISION_LEN, append_with_revision, from_stored, meta_str, with_revision};
use crate::registry::list::Filter;
use crate::registry::{DeleteOptions, Deleted, WriteOptions, decode};
use crate::request::{self, Format, Query, Target};
use crate::table;
use crate::watch::{self, WatchRequest};
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};

fn json_bytes(code: StatusCode, body: Bytes, warnings: &[String]) -> Response {
    with_warnings(
        (code, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        warnings,
    )
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

fn json_value(code: StatusCode, v: &Value) -> Response {
    json_bytes(code, Bytes::from(v.to_string()), &[])
}

/// Bytes of an oversized body read and discarded before answering 413, so that a client
/// still sending it gets the answer instead of a reset connection.
const MAX_DISCARDED_BODY_BYTES: usize = 2 * MAX_REQUEST_BODY_BYTES;

async fn read_body(headers: &HeaderMap, mut body: Body) -> ApiResult<Bytes> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_REQUEST_BODY_BYTES + MAX_DISCARDED_BODY_BYTES) {
        return Err(ApiError::TooLarge);
    }
    let mut out = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("error reading request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total += data.len();
        if total > MAX_REQUEST_BODY_BYTES + MAX_DISCARDED_BODY_BYTES {
            break;
        }
        if total <= MAX_REQUEST_BODY_BYTES {
            out.extend_from_slice(&data);
        }
    }
    if total > MAX_REQUEST_BODY_BYTES {
        return Err(ApiError::TooLarge);
    }
    Ok(out.freeze())
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Entry point for every `/api` and `/apis` request.
pub async fn dispatch(
    state: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match route(&state, &method, &uri, &headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn route(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let path = uri.path().trim_end_matches('/');
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let accept = header_str(headers, header::ACCEPT);
    let get_only = |resp: Response| {
        if method == Method::GET {
            Ok(resp)
        } else {
            Err(ApiError::MethodNotAllowed)
        }
    };
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["api"] => {
            return get_only(match discovery::aggregated_version(accept) {
                Some(v) => discovery::aggregated(true, v),
                None => json_value(
                    StatusCode::OK,
                    &discovery::api_versions(&state.server_address),
                ),
            });
        }
        ["apis"] => {
            return get_only(match discovery::aggregated_version(accept) {
                Some(v) => discovery::aggregated(false, v),
                None => json_value(StatusCode::OK, &discovery::api_group_list()),
            });
        }
        ["apis", g] => {
            let v = discovery::group(g).ok_or(ApiError::NoRoute)?;
            return get_only(json_value(StatusCode::OK, &v));
        }
        ["api", v] | ["apis", _, v] if segs.len() <= 3 => {
            let g = if segs[0] == "api" { "" } else { segs[1] };
            let list = discovery::resource_list(g, v).ok_or(ApiError::NoRoute)?;
            return get_only(json_value(StatusCode::OK, &list));
        }
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(ApiError::NoRoute),
    };
    let target = request::parse_target(group, version, rest)?;
    if target.resource.create_only() {
        // The reviews have only a collection, and only POST on it.
        if target.name.is_some() {
            return Err(ApiError::NoRoute);
        }
        if method != Method::POST {
            return Err(ApiError::MethodNotAllowed);
        }
    }
    let q = Query::parse(uri.query());
    let format = request::negotiate(accept);
    let ct = header_str(headers, header::CONTENT_TYPE).map(str::to_owned);
    match (method.clone(), target.name.is_some()) {
        (Method::GET, false) if q.flag("watch") => watch(state, &target, &q, format),
        (Method::GET, false) => {
            // Reading and encoding a large list blocks: keep it off the async workers.
            let (state, target, q) = (state.clone(), target.clone(), q.clone());
            tokio::task::spawn_blocking(move || list(&state, &target, &q, format))
                .await
                .map_err(|e| ApiError::Internal(format!("list task: {e}")))?
        }
        (Method::GET, true) => get(state, &target, &q, format),
        (Method::POST, false) => {
            let body = read_body(headers, body).await?;
            create(state, &target, &q, ct.as_deref(), &body).await
        }
        (Method::POST, true) if target.subresource.as_deref() == Some("binding") => {
            let body = read_body(headers, body).await?;
            create(state, &target, &q, ct.as_deref(), &body).await
        }
        (Method::PUT, true) => {
            let body = read_body(headers, body).await?;
            update(state, &target, &q, ct.as_deref(), &body).await
        }
        (Method::PATCH, true) => {
            let body = read_body(headers, body).await?;
            patch(state, &target, &q, ct.as_deref(), &body).await
        }
        (Method::DELETE, true) => {
            let body = read_body(headers, body).await?;
            delete(state, &target, &q, &body).await
        }
        (Method::DELETE, false) => {
            let body = read_body(headers, body).await?;
            delete_collection(state, &target, &q, &body).await
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

fn name_of(t: &Target) -> &str {
    t.name.as_deref().unwrap_or_default()
}

fn write_options(q: &Query) -> ApiResult<WriteOptions> {
    Ok(WriteOptions {
        dry_run: q.dry_run()?,
        field_manager: q
            .get("fieldManager")
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        field_validation: q.field_validation()?,
    })
}

fn get(state: &AppState, t: &Target, q: &Query, format: Format) -> ApiResult<Response> {
    match t.subresource.as_deref() {
        None | Some("status") => {}
        Some("log") => return crate::logs::get(state, t, q),
        Some(_) => return Err(ApiError::NoRoute),
    }
    let kv = state
        .registry
        .get_raw(t.resource, t.namespace.as_deref(), name_of(t))?;
    match format {
        Format::Json => Ok(json_bytes(
            StatusCode::OK,
            with_revision(&kv.value, kv.mod_revision),
            &[],
        )),
        Format::Table => {
            let obj = from_stored(&kv.value, kv.mod_revision)?;
            let tbl = table::table(
                t.resource,
                &[obj],
                state.registry.now(),
                request::include_object(q),
                json!({"resourceVersion": kv.mod_revision.to_string()}),
                true,
            )?;
            Ok(json_value(StatusCode::OK, &tbl))
        }
    }
}

fn list(state: &AppState, t: &Target, q: &Query, format: Format) -> ApiResult<Response> {
    let filter = Filter::from_query(t.resource, q)?;
    let page = state
        .registry
        .list(t.resource, t.namespace.as_deref(), q, &filter)?;
    let mut meta = json!({"resourceVersion": page.revision.to_string()});
    if let Some(c) = &page.continue_token {
        meta["continue"] = json!(c);
    }
    match format {
        Format::Json => {
            let mut out = Vec::with_capacity(
                64 + page
                    .items
                    .iter()
                    .map(|kv| kv.value.len() + REVISION_LEN + 1)
                    .sum::<usize>(),
            );
            out.extend_from_slice(
                format!(
                    "{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
                    t.resource.kind,
                    t.resource.api_version(),
                    meta
                )
                .as_bytes(),
            );
            for (i, kv) in page.items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if state.omit_managed_fields {
                    let value = crate::omit::without_managed_fields(&kv.value);
                    append_with_revision(&mut out, &value, kv.mod_revision);
                } else {
                    append_with_revision(&mut out, &kv.value, kv.mod_revision);
                }
            }
            out.extend_from_slice(b"]}");
            Ok(json_bytes(StatusCode::OK, Bytes::from(out), &[]))
        }
        Format::Table => {
            let mut out = Vec::with_capacity(256 * page.items.len() + 1024);
            table::write_list(
                &mut out,
                t.resource,
                &page.items,
                state.registry.now(),
                request::include_object(q),
                &meta,
            )?;
            Ok(json_bytes(StatusCode::OK, Bytes::from(out), &[]))
        }
    }
}

fn watch(state: &AppState, t: &Target, q: &Query, format: Format) -> ApiResult<Response> {
    let req = WatchRequest {
        resource: t.resource,
        namespace: t.namespace.clone(),
        filter: Filter::from_query(t.resource, q)?,
        format,
        include: request::include_object(q),
        omit_managed_fields: state.omit_managed_fields,
    };
    let stream = watch::start(state.registry.clone(), req, q, state.shutdown.clone())?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache, private"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn create(
    state: &AppState,
    t: &Target,
    q: &Query,
    ct: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    if t.resource.create_only() {
        let reviewed = crate::review::create(t.resource, q, ct, body, state.registry.now())?;
        return Ok(match reviewed.answer {
            Ok(v) => json_value(StatusCode::CREATED, &v),
            Err(e) => e.into_response(),
        })
        .map(|resp| with_warnings(resp, &reviewed.warnings));
    }
    match t.subresource.as_deref() {
        None => {}
        Some("binding") if t.name.is_some() => return bind(state, t, body).await,
        Some(_) => return Err(ApiError::MethodNotAllowed),
    }
    let opts = write_options(q)?;
    let decoded = decode::decode(t.resource, ct, body, opts.field_validation)?;
    let mut warnings = decoded.warnings;
    warnings.extend(crate::registry::admission::create_warnings(
        t.resource,
        &decoded.object,
        state.registry.now(),
    ));
    match state
        .registry
        .create(t.resource, t.namespace.as_deref(), decoded.object, &opts)
        .await
    {
        Ok(out) => Ok(json_bytes(StatusCode::CREATED, out, &warnings)),
        Err(e) => Ok(with_warnings(e.into_response(), &warnings)),
    }
}

/// `POST pods/NAME/binding`: answers a Success `Status` with code 201, as the real server.
async fn bind(state: &AppState, t: &Target, body: &[u8]) -> ApiResult<Response> {
    let binding: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding Binding: {e}")))?;
    state
        .registry
        .bind_pod(t.resource, t.namespace.as_deref(), name_of(t), &binding)
        .await?;
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Success", "code": 201,
    });
    Ok(json_value(StatusCode::CREATED, &status))
}

/// Whether a write goes to the `status` subresource (true) or the main resource (false);
/// other subresources take no writes here.
fn writes_status(t: &Target) -> ApiResult<bool> {
    match t.subresource.as_deref() {
        None => Ok(false),
        Some("status") => Ok(true),
        Some(_) => Err(ApiError::MethodNotAllowed),
    }
}

async fn update(
    state: &AppState,
    t: &Target,
    q: &Query,
    ct: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let status = writes_status(t)?;
    let opts = write_options(q)?;
    let decoded = decode::decode(t.resource, ct, body, opts.field_validation)?;
    match state
        .registry
        .update(
            t.resource,
            t.namespace.as_deref(),
            name_of(t),
            decoded.object,
            status,
            &opts,
        )
        .await
    {
        Ok(out) => Ok(json_bytes(StatusCode::OK, out, &decoded.warnings)),
        Err(e) => Ok(with_warnings(e.into_response(), &decoded.warnings)),
    }
}

async fn patch(
    state: &AppState,
    t: &Target,
    q: &Query,
    ct: Option<&str>,
    body: &[u8],
) -> ApiResult<Response> {
    let status = writes_status(t)?;
    let opts = write_options(q)?;
    let force = match q.get("force") {
        None => None,
        Some(v) => Some(parse_bool(v)?),
    };
    let out = state
        .registry
        .patch(
            t.resource,
            t.namespace.as_deref(),
            name_of(t),
            ct,
            body,
            status,
            &opts,
            force,
        )
        .await?;
    let code = if out.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_bytes(code, out.object, &out.warnings))
}

/// Go's `strconv.ParseBool`, as query parameters are converted.
fn parse_bool(v: &str) -> ApiResult<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(ApiError::BadRequest(format!(
            "strconv.ParseBool: parsing {v:?}: invalid syntax"
        ))),
    }
}

fn delete_options(q: &Query, body: &[u8]) -> ApiResult<DeleteOptions> {
    let mut opts = DeleteOptions {
        dry_run: q.dry_run()?,
        propagation_policy: q.get("propagationPolicy").map(str::to_owned),
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        ..DeleteOptions::default()
    };
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::BadRequest(format!("couldn't get version/kind; json parse error: {e}"))
        })?;
        if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
            opts.propagation_policy = Some(p.to_owned());
        }
        if let Some(g) = v.get("gracePeriodSeconds").and_then(Value::as_i64) {
            opts.grace_period_seconds = Some(g);
        }
        if let Some(d) = v.get("dryRun").and_then(Value::as_array) {
            opts.dry_run |= d.iter().any(|x| x == "All");
        }
        if let Some(p) = v.get("preconditions") {
            opts.uid = p.get("uid").and_then(Value::as_str).map(str::to_owned);
            opts.resource_version = p
                .get("resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
    }
    match opts.propagation_policy.as_deref() {
        None | Some("Background" | "Foreground" | "Orphan") => Ok(opts),
        Some(p) => Err(ApiError::Invalid {
            resource: api::resource::find("", "v1", "namespaces").ok_or(ApiError::NoRoute)?,
            name: String::new(),
            errors: vec![api::validation::FieldError::not_supported(
                "propagationPolicy",
                json!(p),
                &["Foreground", "Background", "Orphan", "nil"],
            )],
        }),
    }
}

fn deleted_status(t: &Target, obj: &Bytes) -> Value {
    let v: Value = serde_json::from_slice(obj).unwrap_or_default();
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {
            "name": meta_str(&v, "name").unwrap_or_default(),
            "group": t.resource.group,
            "kind": t.resource.plural,
            "uid": meta_str(&v, "uid").unwrap_or_default(),
        },
    })
}

/// Pods and namespaces answer a delete with the object; the rest with a Success Status.
fn returns_deleted_object(t: &Target) -> bool {
    matches!(t.resource.plural, "pods" | "namespaces")
}

async fn delete(state: &AppState, t: &Target, q: &Query, body: &[u8]) -> ApiResult<Response> {
    if t.subresource.is_some() {
        return Err(ApiError::MethodNotAllowed);
    }
    let opts = delete_options(q, body)?;
    match state
        .registry
        .delete(t.resource, t.namespace.as_deref(), name_of(t), &opts)
        .await?
    {
        Deleted::Pending(obj) => Ok(json_bytes(StatusCode::OK, obj, &[])),
        Deleted::Gone(obj) if returns_deleted_object(t) => Ok(json_bytes(StatusCode::OK, obj, &[])),
        Deleted::Gone(obj) => Ok(json_value(StatusCode::OK, &deleted_status(t, &obj))),
    }
}

async fn delete_collection(
    state: &AppState,
    t: &Target,
    q: &Query,
    body: &[u8],
) -> ApiResult<Response> {
    if t.subresource.is_some() || !t.resource.verbs.contains(&"deletecollection") {
        return Err(ApiError::MethodNotAllowed);
    }
    let opts = delete_options(q, body)?;
    let filter = Filter::from_query(t.resource, q)?;
    let page = state.registry.list(
        t.resource,
        t.namespace.as_deref(),
        &q.clone_without_paging(),
        &filter,
    )?;
    let mut items = Vec::new();
    for kv in page.items {
        let obj = from_stored(&kv.value, kv.mod_revision)?;
        let (ns, name) = (
            meta_str(&obj, "namespace").map(str::to_owned),
            meta_str(&obj, "name").unwrap_or_default().to_owned(),
        );
        match state
            .registry
            .delete(t.resource, ns.as_deref(), &name, &opts)
            .await
        {
            Ok(Deleted::Gone(b) | Deleted::Pending(b)) => {
                items.push(serde_json::from_slice::<Value>(&b).unwrap_or_default())
            }
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": format!("{}List", t.resource.kind),
        "apiVersion": t.resource.api_version(),
        "metadata": {"resourceVersion": state.registry.store().current_revision().to_string()},
        "items": items,
    });
    Ok(json_value(StatusCode::OK, &list))
}
