//! [`FakeRuntime`]: an in-memory [`ContainerRuntime`] with scripted behaviour, for the
//! agent's tests. Nothing runs; every call is recorded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;
use tokio::sync::watch;

use crate::ContainerRuntime;
use crate::error::{Error, Result};
use crate::spec::ContainerSpec;
use crate::status::{ExitReason, ExitStatus, Handle, Signal};

/// What a fake container does once started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Script {
    /// Exits with this code at once.
    Exit(i32),
    /// Runs until [`FakeRuntime::finish`] or a signal: SIGKILL → 137, any other signal →
    /// 128 + its number, except SIGTERM when `ignore_term`.
    Run {
        /// Ignore SIGTERM (then only SIGKILL or `finish` ends it).
        ignore_term: bool,
    },
    /// The command cannot start; `wait` reports [`ExitReason::StartError`] with this message.
    StartError(String),
    /// OOM-killed at once (exit 137).
    OomKill,
}

/// A call made to the fake, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    /// `start(spec)`.
    Start(ContainerSpec),
    /// `signal(id, signal)`.
    Signal(String, Signal),
    /// `remove(id)`.
    Remove(String),
}

type Matcher = Box<dyn Fn(&ContainerSpec) -> bool + Send + Sync>;

/// In-memory runtime. By default every container runs until signalled
/// (`Script::Run { ignore_term: false }`); [`script`](Self::script) changes that per spec.
pub struct FakeRuntime {
    inner: Mutex<Inner>,
}

struct Inner {
    default: Script,
    rules: Vec<(Matcher, Script)>,
    containers: HashMap<String, Fake>,
    calls: Vec<FakeCall>,
    next_pid: u32,
}

struct Fake {
    handle: Handle,
    script: Script,
    exit: Arc<watch::Sender<Option<ExitStatus>>>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        FakeRuntime {
            inner: Mutex::new(Inner {
                default: Script::Run { ignore_term: false },
                rules: Vec::new(),
                containers: HashMap::new(),
                calls: Vec::new(),
                next_pid: 1000,
            }),
        }
    }
}

impl std::fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRuntime").finish_non_exhaustive()
    }
}

impl FakeRuntime {
    /// What containers matching no rule do.
    pub fn set_default(&self, script: Script) {
        self.lock().default = script;
    }

    /// Containers whose spec matches `matcher` follow `script` (the first matching rule
    /// wins, in the order added).
    pub fn script(
        &self,
        matcher: impl Fn(&ContainerSpec) -> bool + Send + Sync + 'static,
        script: Script,
    ) {
        self.lock().rules.push((Box::new(matcher), script));
    }

    /// Ends a running container with exit code `code`. Returns false if it is not running.
    pub fn finish(&self, id: &str, code: i32) -> bool {
        let inner = self.lock();
        let Some(c) = inner.containers.get(id) else {
            return false;
        };
        exit_with(c, code, None, ExitReason::Exited)
    }

    /// Ids of containers that have started and not exited.
    pub fn running(&self) -> Vec<String> {
        let inner = self.lock();
        let mut ids: Vec<String> = inner
            .containers
            .iter()
            .filter(|(_, c)| c.exit.borrow().is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn exit_with(c: &Fake, code: i32, signal: Option<i32>, reason: ExitReason) -> bool {
    c.exit.send_if_modified(|exit| {
        if exit.is_some() {
            return false;
        }
        *exit = Some(ExitStatus {
            code,
            signal,
            reason,
            message: None,
            started_at: c.handle.started_at,
            finished_at: Timestamp::now(),
        });
        true
    })
}

impl ContainerRuntime for FakeRuntime {
    async fn start(&self, spec: &ContainerSpec) -> Result<Handle> {
        spec.validate()?;
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Start(spec.clone()));
        if inner.containers.contains_key(&spec.id) {
            return Err(Error::AlreadyExists {
                id: spec.id.clone(),
            });
        }
        let script = inner
            .rules
            .iter()
            .find(|(m, _)| m(spec))
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| inner.default.clone());
        let now = Timestamp::now();
        let started = !matches!(script, Script::StartError(_));
        inner.next_pid += 1;
        let handle = Handle {
            id: spec.id.clone(),
            pid: started.then_some(inner.next_pid),
            started_at: started.then_some(now),
            limits_enforced: true,
            limits_message: None,
            shim: None,
        };
        let (tx, _) = watch::channel(None);
        let fake = Fake {
            handle: handle.clone(),
            script: script.clone(),
            exit: Arc::new(tx),
        };
        match script {
            Script::Exit(code) => {
                exit_with(&fake, code, None, ExitReason::Exited);
            }
            Script::OomKill => {
                exit_with(&fake, 137, Some(9), ExitReason::OomKilled);
            }
            Script::StartError(message) => {
                fake.exit
                    .send_replace(Some(ExitStatus::start_error(message, now)));
            }
            Script::Run { .. } => {}
        }
        inner.containers.insert(spec.id.clone(), fake);
        Ok(handle)
    }

    fn signal(&self, handle: &Handle, signal: Signal) -> Result<()> {
        let mut inner = self.lock();
        inner
            .calls
            .push(FakeCall::Signal(handle.id.clone(), signal));
        let Some(c) = inner.containers.get(&handle.id) else {
            return Err(Error::NotFound {
                id: handle.id.clone(),
            });
        };
        let ignored = signal == Signal::Term && c.script == (Script::Run { ignore_term: true });
        if matches!(c.script, Script::Run { .. }) && !ignored {
            let n = signal.number();
            exit_with(c, 128 + n, Some(n), ExitReason::Exited);
        }
        Ok(())
    }

    async fn wait(&self, handle: &Handle) -> Result<ExitStatus> {
        let tx = {
            let inner = self.lock();
            let Some(c) = inner.containers.get(&handle.id) else {
                return Err(Error::NotFound {
                    id: handle.id.clone(),
                });
            };
            Arc::clone(&c.exit)
        };
        let mut rx = tx.subscribe();
        let exit = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| Error::NotFound {
                id: handle.id.clone(),
            })?
            .clone();
        exit.ok_or_else(|| Error::NotFound {
            id: handle.id.clone(),
        })
    }

    fn adopt(&self) -> Result<Vec<Handle>> {
        let inner = self.lock();
        let mut handles: Vec<Handle> = inner
            .containers
            .values()
            .map(|c| c.handle.clone())
            .collect();
        handles.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(handles)
    }

    fn remove(&self, handle: &Handle) -> Result<()> {
        let mut inner = self.lock();
        inner.calls.push(FakeCall::Remove(handle.id.clone()));
        if let Some(c) = inner.containers.get(&handle.id)
            && c.exit.borrow().is_none()
        {
            return Err(Error::StillRunning {
                id: handle.id.clone(),
            });
        }
        inner.containers.remove(&handle.id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn spec(id: &str, cmd: &str) -> ContainerSpec {
        ContainerSpec::new(id, vec![cmd.into()], "/tmp/fake.log")
    }

    #[tokio::test(start_paused = true)]
    async fn scripted_exits_and_stop() {
        let rt = FakeRuntime::default();
        rt.script(|s| s.argv[0] == "fail", Script::Exit(3));
        rt.script(
            |s| s.argv[0] == "missing",
            Script::StartError("not found".into()),
        );
        rt.script(
            |s| s.argv[0] == "stubborn",
            Script::Run { ignore_term: true },
        );

        let h = rt.start(&spec("a", "fail")).await.unwrap();
        assert_eq!(rt.wait(&h).await.unwrap().code, 3);

        let h = rt.start(&spec("b", "missing")).await.unwrap();
        assert_eq!(h.pid, None);
        let exit = rt.wait(&h).await.unwrap();
        assert_eq!(
            (exit.reason, exit.message.as_deref()),
            (ExitReason::StartError, Some("not found"))
        );

        let h = rt.start(&spec("c", "sleep")).await.unwrap();
        assert_eq!(rt.running(), vec!["c".to_owned()]);
        assert!(matches!(rt.remove(&h), Err(Error::StillRunning { .. })));
        let exit = rt.stop(&h, Duration::from_secs(30)).await.unwrap();
        assert_eq!((exit.code, exit.signal), (143, Some(15)));

        let h = rt.start(&spec("d", "stubborn")).await.unwrap();
        let exit = rt.stop(&h, Duration::from_secs(30)).await.unwrap();
        assert_eq!((exit.code, exit.signal), (137, Some(9)));
        assert!(
            rt.calls()
                .contains(&FakeCall::Signal("d".into(), Signal::Kill))
        );

        let h = rt.start(&spec("e", "sleep")).await.unwrap();
        assert!(rt.finish("e", 0));
        assert!(rt.wait(&h).await.unwrap().success());
        assert_eq!(rt.adopt().unwrap().len(), 5);
        rt.remove(&h).unwrap();
        assert_eq!(rt.adopt().unwrap().len(), 4);
        assert!(matches!(
            rt.start(&spec("a", "x")).await,
            Err(Error::AlreadyExists { .. })
        ));
    }
}
