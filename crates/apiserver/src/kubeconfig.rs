//! The admin kubeconfig the server writes for kubectl: the server URL, the CA and the token.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A kubeconfig for `server` (e.g. `https://127.0.0.1:6443`), trusting `ca_pem` (None for
/// plain HTTP), authenticating with `token`.
pub fn render(server: &str, ca_pem: Option<&str>, token: &str) -> String {
    let ca = match ca_pem {
        Some(pem) => format!("    certificate-authority-data: {}\n", STANDARD.encode(pem)),
        None => String::new(),
    };
    format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
{ca}    server: {server}
  name: batchlet
contexts:
- context:
    cluster: batchlet
    namespace: default
    user: batchlet-admin
  name: batchlet
current-context: batchlet
preferences: {{}}
users:
- name: batchlet-admin
  user:
    token: {token}
"
    )
}
