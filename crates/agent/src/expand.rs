//! `$(VAR)` expansion in `command`, `args` and `env` values, exactly as Kubernetes'
//! `third_party/forked/golang/expansion`: `$$` is an escaped `$`, a reference to an unknown
//! variable stays as written, an unclosed `$(` is kept literally.
//!
//! One deliberate difference: Go works on bytes and turns a non-ASCII byte after `$` into a
//! mangled rune; this works on characters and keeps it intact.

/// Expands `input`, looking variables up with `lookup`.
pub fn expand<'a>(input: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        match chars.next() {
            // A trailing `$` is copied as is.
            None => {
                out.push('$');
                rest = after;
            }
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('(') => match after[1..].find(')') {
                Some(close) => {
                    let name = &after[1..1 + close];
                    match lookup(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &after[close + 2..];
                }
                None => {
                    out.push_str("$(");
                    rest = &after[1..];
                }
            },
            Some(c) => {
                out.push('$');
                out.push(c);
                rest = &after[c.len_utf8()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Expands with the variables in `env` (the last definition of a name wins).
pub fn expand_env(input: &str, env: &[(String, String)]) -> String {
    expand(input, |name| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of Kubernetes' `TestMapReference` and `TestExpand` that matter.
    #[test]
    fn kubernetes_cases() {
        let env: Vec<(String, String)> = [
            ("VAR_A", "A"),
            ("VAR_B", "B"),
            ("VAR_C", "C"),
            ("VAR_REF", "$(VAR_A)"),
            ("VAR_EMPTY", ""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (input, want) in [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("foo$(VAR_EMPTY)bar", "foobar"),
            ("$(UNKNOWN)", "$(UNKNOWN)"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$(VAR_A", "$(VAR_A"),
            ("$(", "$("),
            ("$", "$"),
            ("$$", "$"),
            ("foo$", "foo$"),
            ("$VAR_A", "$VAR_A"),
            ("${VAR_A}", "${VAR_A}"),
            ("$()", "$()"),
            ("$(VAR_A)$", "A$"),
            ("a$(b$(VAR_A))", "a$(b$(VAR_A))"),
            ("héllo $é $(VAR_A)", "héllo $é A"),
            ("", ""),
        ] {
            assert_eq!(expand_env(input, &env), want, "{input:?}");
        }
    }
}
