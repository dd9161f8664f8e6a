//! A small Rust HTTP client for the e2e tests that need many requests or raw answers
//! (access control, load, write bursts): one HTTP/1.1 keep-alive connection per `Conn`,
//! TLS verified against the server's CA, the bearer token optional.

use crate::harness::Server;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

/// Where and how to reach a server.
#[derive(Clone)]
pub struct Api {
    /// `host:port`.
    pub addr: String,
    tls: Option<TlsConnector>,
    /// The bearer token of the kubeconfig.
    pub token: String,
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON (panics with the text if it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A client error: connecting, TLS or HTTP.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

impl Api {
    /// The server's address, CA and token, from its kubeconfig and pki.
    pub fn of(s: &Server) -> Api {
        let (url, token) = s.url_and_token();
        let (tls, addr) = match url.strip_prefix("https://") {
            Some(addr) => {
                let pem = std::fs::read(s.ca_file()).expect("ca.crt");
                let mut roots = rustls::RootCertStore::empty();
                for c in rustls_pemfile::certs(&mut pem.as_slice()) {
                    roots.add(c.expect("CA pem")).expect("CA cert");
                }
                let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .expect("tls versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
                (Some(TlsConnector::from(Arc::new(cfg))), addr)
            }
            None => (None, url.strip_prefix("http://").expect("http url")),
        };
        Api {
            addr: addr.trim_end_matches('/').to_owned(),
            tls,
            token,
        }
    }

    /// Opens one connection.
    pub async fn connect(&self) -> Result<Conn, Error> {
        let tcp = TcpStream::connect(&self.addr).await?;
        tcp.set_nodelay(true)?;
        let sender = match &self.tls {
            Some(tls) => {
                let host = self.addr.rsplit_once(':').expect("host:port").0;
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())?;
                let stream = tls.connect(name, tcp).await?;
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                sender
            }
            None => {
                let (sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
                tokio::spawn(conn);
                sender
            }
        };
        Ok(Conn {
            sender,
            token: Some(self.token.clone()),
        })
    }
}

/// One keep-alive connection.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// The token sent, if any.
    pub token: Option<String>,
}

impl Conn {
    /// Sends a request and returns the response with its body unread.
    pub async fn open(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<http::Response<Incoming>, Error> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "batchlet")
            .header("accept", "application/json")
            .header("content-type", content_type);
        if let Some(t) = &self.token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        self.sender.ready().await?;
        Ok(self
            .sender
            .send_request(b.body(Full::new(body.into()))?)
            .await?)
    }

    /// Sends a request and reads the whole response.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<Bytes>,
    ) -> Result<Reply, Error> {
        let resp = self.open(method, path, content_type, body).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET` a path.
    pub async fn get(&mut self, path: &str) -> Result<Reply, Error> {
        self.send(Method::GET, path, "application/json", Bytes::new())
            .await
    }

    /// `POST` a JSON object.
    pub async fn post(&mut self, path: &str, obj: &serde_json::Value) -> Result<Reply, Error> {
        self.send(Method::POST, path, "application/json", obj.to_string())
            .await
    }
}

/// Reads newline-delimited JSON events from a watch response, calling `f` for each until it
/// returns false or the stream ends; returns whether `f` asked to stop.
pub async fn each_event(
    resp: http::Response<Incoming>,
    mut f: impl FnMut(serde_json::Value) -> bool,
) -> Result<bool, Error> {
    let mut body = resp.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        buf.extend_from_slice(data);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let ev: serde_json::Value = serde_json::from_slice(&line)?;
            if !f(ev) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Objects as one multi-document YAML stream (each document in JSON), for `kubectl create
/// -f -`.
pub fn documents(objects: &[serde_json::Value]) -> String {
    objects
        .iter()
        .map(serde_json::Value::to_string)
        .collect::<Vec<_>>()
        .join("\n---\n")
}
