//! The names MCP tools are offered to the model under: `<server>__<tool>`, made to fit the
//! providers' rule `^[a-zA-Z0-9_-]{1,64}$`, the same whatever order the tools come in, and
//! never two alike.
//!
//! A name that had to be changed to fit (other characters replaced by `_`, or shortened), or
//! that two tools would share, ends in `_` and 8 hex digits of a hash of the exact server and
//! tool names, so it stays stable from one conversation to the next.

use std::collections::HashMap;

const MAX: usize = 64;
const SUFFIX: usize = 9; // `_` + 8 hex digits

/// One tool as offered: the name the model sees, and what it stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferedTool {
    pub name: String,
    pub server: String,
    pub tool: String,
}

/// FNV-1a, 32 bits: small, stable across builds and platforms.
fn hash(server: &str, tool: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for byte in server.bytes().chain([0]).chain(tool.bytes()) {
        h ^= u32::from(byte);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The plain name, and whether it is exactly `<server>__<tool>` within the length limit.
fn plain(server: &str, tool: &str) -> (String, bool) {
    let joined = format!("{}__{}", sanitize(server), sanitize(tool));
    let exact = joined == format!("{server}__{tool}") && joined.len() <= MAX && !joined.is_empty();
    (joined, exact)
}

fn with_suffix(base: &str, server: &str, tool: &str) -> String {
    let keep: String = base.chars().take(MAX - SUFFIX).collect();
    format!("{keep}_{:08x}", hash(server, tool))
}

/// Names for `tools` (server, tool) pairs, in the order given.
pub fn assign(tools: &[(String, String)]) -> Vec<OfferedTool> {
    let plains: Vec<(String, bool)> = tools.iter().map(|(s, t)| plain(s, t)).collect();
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for (name, _) in &plains {
        *uses.entry(name.as_str()).or_default() += 1;
    }
    tools
        .iter()
        .zip(&plains)
        .map(|((server, tool), (name, exact))| {
            let name = if *exact && uses[name.as_str()] == 1 {
                name.clone()
            } else {
                with_suffix(name, server, tool)
            };
            OfferedTool {
                name,
                server: server.clone(),
                tool: tool.clone(),
            }
        })
        .collect()
}

/// Whether `name` can be one that [`assign`] gives a tool of `server`: every such name starts
/// with `<server>__` (the server as [`assign`] writes it), or with as much of that as a name
/// shortened to fit keeps.
pub fn may_be_of(name: &str, server: &str) -> bool {
    let prefix = format!("{}__", sanitize(server));
    name.starts_with(&prefix[..prefix.len().min(MAX - SUFFIX)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(tools: &[(&str, &str)]) -> Vec<String> {
        let owned: Vec<(String, String)> = tools
            .iter()
            .map(|(s, t)| (s.to_string(), t.to_string()))
            .collect();
        assign(&owned).into_iter().map(|t| t.name).collect()
    }

    fn fits(name: &str) -> bool {
        (1..=MAX).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    }

    #[test]
    fn plain_names_stay_readable() {
        assert_eq!(
            names(&[("everything", "echo"), ("github", "create-issue")]),
            ["everything__echo", "github__create-issue"]
        );
    }

    #[test]
    fn names_that_do_not_fit_are_made_to_and_marked_with_a_stable_hash() {
        let odd = names(&[("My Server", "get.weather"), ("s", &"t".repeat(80))]);
        assert!(odd.iter().all(|n| fits(n)), "{odd:?}");
        assert!(odd[0].starts_with("My_Server__get_weather_"));
        assert_eq!(
            odd,
            names(&[("My Server", "get.weather"), ("s", &"t".repeat(80))]),
            "the same every time"
        );
    }

    #[test]
    fn tools_that_would_share_a_name_never_do_whatever_their_order() {
        let a = names(&[("a.b", "x"), ("a_b", "x")]);
        assert_ne!(a[0], a[1]);
        assert!(a.iter().all(|n| fits(n) && n.starts_with("a_b__x_")));
        let b = names(&[("a_b", "x"), ("a.b", "x")]);
        assert_eq!(
            (a[0].clone(), a[1].clone()),
            (b[1].clone(), b[0].clone()),
            "order does not change a tool's name"
        );
    }

    #[test]
    fn a_name_is_known_by_its_server_even_shortened() {
        let long = "s".repeat(60);
        let pairs: Vec<(String, String)> = [
            ("everything", "echo"),
            ("every", "thing"),
            ("My Server", "get.weather"),
            (long.as_str(), "tool"),
            ("short", &"t".repeat(80)),
        ]
        .iter()
        .map(|(s, t)| (s.to_string(), t.to_string()))
        .collect();
        for named in assign(&pairs) {
            for (server, _) in &pairs {
                assert_eq!(
                    may_be_of(&named.name, server),
                    *server == named.server,
                    "{} of {server}?",
                    named.name
                );
            }
        }
    }
}
