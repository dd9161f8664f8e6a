//! A pod's container as the runtime's [`ContainerSpec`]: argv (`command` + `args`,
//! `$(VAR)`-expanded), the environment ([`crate::env`]), working directory, limits, volume
//! mounts ([`crate::volumes`]) and the log file of this start.

use api::validation::Quantity;
use k8s_openapi::api::core::v1::{Container, Pod};
use runtime::{ContainerSpec, Limits};

use crate::env::{self, Host};
use crate::ids::run_id;
use crate::layout::{Layout, safe};
use crate::observed::Blocked;
use crate::volumes;

/// Why the container cannot be started as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// It waits (and is retried): a config error or a volume that is not ready.
    Blocked(Blocked),
    /// It can never run as written: recorded as a `StartError` exit with this message.
    CannotRun(String),
}

/// The container named `name` in `pod` (init containers first), and whether it is one.
pub fn find<'a>(pod: &'a Pod, name: &str) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .find(|c| c.name == name)
}

/// `resources.limits` as runtime limits.
pub fn limits(c: &Container) -> Limits {
    let get = |k: &str| {
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .and_then(|l| l.get(k))
            .and_then(|q| Quantity::parse(&q.0))
    };
    Limits {
        memory_bytes: get("memory").and_then(|q| u64::try_from(q.value()).ok()),
        cpu_millis: get("cpu").and_then(|q| u64::try_from(q.milli_value()).ok()),
    }
}

/// The spec of run `restart` of container `c`.
pub fn spec(
    pod: &Pod,
    c: &Container,
    restart: u32,
    layout: &Layout,
    host: &Host,
) -> Result<ContainerSpec, Problem> {
    let m = &pod.metadata;
    let (ns, name, uid) = (
        m.namespace.as_deref().unwrap_or_default(),
        m.name.as_deref().unwrap_or_default(),
        m.uid.as_deref().unwrap_or_default(),
    );
    if ![ns, name, uid, c.name.as_str()].iter().all(|s| safe(s)) {
        return Err(Problem::CannotRun("invalid pod or container name".into()));
    }
    let env = env::environment(pod, c, host).map_err(|e| {
        Problem::Blocked(Blocked {
            reason: "CreateContainerConfigError".into(),
            message: Some(e.0),
        })
    })?;
    let argv = env::argv(c, &env);
    if argv.is_empty() {
        return Err(Problem::CannotRun(format!(
            "container {:?} has no command: the process runtime runs the command on this host and does not use the image {:?}",
            c.name,
            c.image.as_deref().unwrap_or_default()
        )));
    }
    let mounts = volumes::mounts(pod, c, layout).map_err(|e| {
        Problem::Blocked(Blocked {
            reason: "ContainerCreating".into(),
            message: Some(e.0),
        })
    })?;
    let mut spec = ContainerSpec::new(
        run_id(uid, &c.name, restart),
        argv,
        layout.log_file(ns, name, &c.name, restart),
    );
    spec.env = env;
    spec.working_dir = c
        .working_dir
        .clone()
        .filter(|d| !d.is_empty())
        .map(Into::into);
    spec.limits = limits(c);
    spec.mounts = mounts;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs() {
        let layout = Layout::new("/data");
        let host = Host {
            ip: "127.0.0.1".into(),
            cpu_millis: 2000,
            memory_bytes: 1 << 30,
        };
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
            "spec": {"containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c"], "args": ["echo $(A)"],
                 "workingDir": "/tmp", "env": [{"name": "A", "value": "x"}],
                 "resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}},
                {"name": "bare", "image": "busybox"},
            ]}
        }))
        .unwrap_or_default();
        let c = find(&pod, "c").cloned().unwrap_or_default();
        let s = spec(&pod, &c, 2, &layout, &host);
        let Ok(s) = s else {
            panic!("{s:?}");
        };
        assert_eq!(s.id, "u1_c_2");
        assert_eq!(s.argv, ["sh", "-c", "echo x"]);
        assert_eq!(s.log_path, layout.log_file("ns", "p", "c", 2));
        assert_eq!(s.working_dir.as_deref(), Some(std::path::Path::new("/tmp")));
        assert_eq!(
            s.limits,
            Limits {
                memory_bytes: Some(64 << 20),
                cpu_millis: Some(250)
            }
        );
        let bare = find(&pod, "bare").cloned().unwrap_or_default();
        assert!(matches!(
            spec(&pod, &bare, 0, &layout, &host),
            Err(Problem::CannotRun(_))
        ));
    }
}
