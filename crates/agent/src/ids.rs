//! Runtime container ids: one per container start, `<pod uid>_<container>_<restart>`. `_`
//! appears in neither a UID nor a container name (a DNS label), so an id parses back.

/// The id of run `restart` of `container` in the pod with `uid`.
pub fn run_id(uid: &str, container: &str, restart: u32) -> String {
    format!("{uid}_{container}_{restart}")
}

/// `(pod uid, container, restart)` of a run id.
pub fn parse(id: &str) -> Option<(&str, &str, u32)> {
    let (rest, restart) = id.rsplit_once('_')?;
    let (uid, container) = rest.split_once('_')?;
    let restart = restart.parse().ok()?;
    (!uid.is_empty() && !container.is_empty()).then_some((uid, container, restart))
}

/// The id of the run before `id`, if there was one.
pub fn previous(id: &str) -> Option<String> {
    let (uid, container, restart) = parse(id)?;
    restart.checked_sub(1).map(|r| run_id(uid, container, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id = run_id("0b6c-11", "main-1", 3);
        assert_eq!(id, "0b6c-11_main-1_3");
        assert_eq!(parse(&id), Some(("0b6c-11", "main-1", 3)));
        assert_eq!(previous(&id).as_deref(), Some("0b6c-11_main-1_2"));
        assert_eq!(previous("u_c_0"), None);
        for bad in ["", "u_c", "u_c_x", "_c_1", "u__1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
