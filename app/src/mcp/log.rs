//! The connection log of one MCP server: every request and response, for the user to read
//! when a connection fails. Credential header values are redacted before they are kept.

use super::transport::{Outgoing, Response, PROXY_WRAP_PREFIX};

/// Bodies are kept up to this many bytes.
const BODY_LIMIT: usize = 2000;
/// Entries kept per server; older ones are dropped.
pub const MAX_ENTRIES: usize = 200;

#[derive(Clone, Debug, PartialEq)]
pub enum Direction {
    Sent,
    Received,
    /// A note from the client itself (a fallback, a failure).
    Note,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub direction: Direction,
    /// `POST http://…/mcp`, `← 200 application/json`, or the note.
    pub line: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Whether a header's value is a credential (by the name it has upstream).
pub fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix(PROXY_WRAP_PREFIX).unwrap_or(&name);
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie" | "x-api-key"
    ) || ["token", "secret", "key", "auth", "password", "session"]
        .iter()
        .any(|w| name.contains(w))
        && name != "mcp-session-id"
}

pub fn redacted(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = if is_credential(name) {
                "[redacted]".to_owned()
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

fn clipped(body: &str) -> String {
    if body.len() <= BODY_LIMIT {
        return body.to_owned();
    }
    let mut end = BODY_LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &body[..end], body.len())
}

impl LogEntry {
    pub fn sent(request: &Outgoing) -> LogEntry {
        LogEntry {
            direction: Direction::Sent,
            line: format!("{} {}", request.method.as_str(), request.url),
            headers: redacted(&request.headers),
            body: request.body.as_deref().map(clipped),
        }
    }

    pub fn received(response: &Response, body: Option<&str>) -> LogEntry {
        let source = if response.from_proxy {
            " (from Hearth's proxy)"
        } else {
            ""
        };
        LogEntry {
            direction: Direction::Received,
            line: format!("{} {}{source}", response.status, response.content_type()),
            headers: redacted(&response.headers),
            body: body.map(clipped),
        }
    }

    pub fn note(text: impl Into<String>) -> LogEntry {
        LogEntry {
            direction: Direction::Note,
            line: text.into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_under_their_own_or_wrapped_names() {
        let headers: Vec<(String, String)> = [
            ("authorization", "Bearer s3cret"),
            ("x-proxy-header-authorization", "Bearer s3cret"),
            ("X-Api-Key", "s3cret"),
            ("x-github-token", "s3cret"),
            ("mcp-session-id", "abc"),
            ("accept", "application/json"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
        let shown = redacted(&headers);
        assert!(
            shown
                .iter()
                .all(|(_, v)| v != "s3cret" && v != "Bearer s3cret"),
            "{shown:?}"
        );
        assert_eq!(shown[4].1, "abc");
        assert_eq!(shown[5].1, "application/json");
    }

    #[test]
    fn long_bodies_are_clipped_on_a_character_boundary() {
        let body = "é".repeat(BODY_LIMIT);
        let kept = clipped(&body);
        assert!(kept.len() < body.len() && kept.ends_with("bytes)"));
    }
}
