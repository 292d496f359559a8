//! The auth probe: one cheap call that exercises the provider key before an LLM is saved, so a
//! wrong key shows up at registration instead of at the first chat; the same call again when an
//! admin asks for a check; and the provider's model list, offered when an LLM is added.
//!
//! OpenAI-family providers: `GET <base>/v1/models`. Anthropic: `POST <base>/v1/messages` with
//! `max_tokens: 1` for the check, `GET <base>/v1/models` for the list. Never logs or returns
//! the key, nor the provider's answer body.

use std::time::Duration;

use app::api::{ProbeOutcome, ProbeReport, Provider};

const TIMEOUT: Duration = Duration::from_secs(10);
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The most of a model list read: a provider's list is a few kilobytes.
const MAX_LIST_BYTES: usize = 1 << 20;
/// The most model names offered, each at most `MAX_MODEL_CHARS` long.
const MAX_MODELS: usize = 2000;
const MAX_MODEL_CHARS: usize = 256;

/// `<base>/v1/<path>`, whether or not the base already ends in `/v1`.
pub fn endpoint(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/{path}")
}

/// The request with the provider's way of sending a key, when there is one.
fn with_key(
    request: reqwest::RequestBuilder,
    provider: Provider,
    key: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = match provider {
        Provider::Anthropic => request.header("anthropic-version", ANTHROPIC_VERSION),
        _ => request,
    };
    match (provider, key.filter(|k| !k.is_empty())) {
        (_, None) => request,
        (Provider::Anthropic, Some(key)) => request.header("x-api-key", key),
        (_, Some(key)) => request.bearer_auth(key),
    }
}

/// The outcome of a check, in words; `Ok` carries the answer for a caller that reads it.
fn report(
    sent: Result<reqwest::Response, reqwest::Error>,
    with_key: bool,
) -> Result<reqwest::Response, ProbeReport> {
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            return Err(ProbeReport {
                outcome: ProbeOutcome::Unreachable,
                status: None,
                message: format!(
                    "Could not reach the provider ({}).",
                    if e.is_timeout() {
                        "no answer in 10 seconds"
                    } else {
                        "the connection failed"
                    }
                ),
            })
        }
    };
    let status = answer.status().as_u16();
    let (outcome, message) = match status {
        200..=299 => return Ok(answer),
        300..=399 => (
            ProbeOutcome::Unexpected,
            format!(
                "The provider answered with a redirect (HTTP {status}), which Hearth does not follow with the key: \
                 set the base URL to where it points."
            ),
        ),
        401 | 403 if with_key => (
            ProbeOutcome::Auth,
            format!("The provider rejected this key ({status})."),
        ),
        401 | 403 => (
            ProbeOutcome::Auth,
            format!("The provider asks for a key ({status})."),
        ),
        _ => (
            ProbeOutcome::Unexpected,
            format!("The provider answered the check with HTTP {status}."),
        ),
    };
    Err(ProbeReport {
        outcome,
        status: Some(status),
        message,
    })
}

fn accepted(status: u16, with_key: bool) -> ProbeReport {
    ProbeReport {
        outcome: ProbeOutcome::Ok,
        status: Some(status),
        message: if with_key {
            "The provider accepted the key."
        } else {
            "The provider answered."
        }
        .into(),
    }
}

/// Checks that the provider answers, and accepts `key` when there is one.
#[tracing::instrument(skip_all, fields(provider = provider.as_str()))]
pub async fn probe(
    client: &reqwest::Client,
    provider: Provider,
    base: &str,
    model: &str,
    key: Option<&str>,
) -> ProbeReport {
    let request = match provider {
        Provider::Anthropic => client
            .post(endpoint(base, "messages"))
            .json(&serde_json::json!({
                "model": model,
                "max_tokens": 1,
                "messages": [{"role": "user", "content": "ping"}],
            })),
        Provider::Openai
        | Provider::Vllm
        | Provider::Deepseek
        | Provider::Ollama
        | Provider::Llamacpp
        | Provider::OpenaiCompatible => client.get(endpoint(base, "models")),
    };
    let has_key = key.is_some_and(|k| !k.is_empty());
    let sent = with_key(request, provider, key)
        .timeout(TIMEOUT)
        .send()
        .await;
    let report = match report(sent, has_key) {
        Ok(answer) => accepted(answer.status().as_u16(), has_key),
        Err(report) => report,
    };
    tracing::info!(outcome = ?report.outcome, status = report.status, "LLM auth probe");
    report
}

/// The models the provider offers (`GET /v1/models`, OpenAI's and Anthropic's shape alike:
/// `{"data": [{"id": …}]}`), sorted; with the check's outcome. A list that cannot be read is
/// an empty one: the model is then typed by hand.
#[tracing::instrument(skip_all, fields(provider = provider.as_str()))]
pub async fn models(
    client: &reqwest::Client,
    provider: Provider,
    base: &str,
    key: Option<&str>,
) -> (ProbeReport, Vec<String>) {
    let has_key = key.is_some_and(|k| !k.is_empty());
    let request = with_key(client.get(endpoint(base, "models")), provider, key);
    let sent = request.timeout(TIMEOUT).send().await;
    let answer = match report(sent, has_key) {
        Ok(answer) => answer,
        Err(report) => {
            tracing::info!(outcome = ?report.outcome, status = report.status, "provider model list");
            return (report, Vec::new());
        }
    };
    let status = answer.status().as_u16();
    let names = match super::gateway::read_whole(answer, MAX_LIST_BYTES).await {
        Ok(body) => model_names(&body),
        Err(_) => Vec::new(),
    };
    tracing::info!(status, models = names.len(), "provider model list");
    (accepted(status, has_key), names)
}

/// The `id`s of an OpenAI-shaped model list: sorted, without duplicates, within bounds.
fn model_names(body: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct List {
        data: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        id: serde_json::Value,
    }
    let Ok(list) = serde_json::from_slice::<List>(body) else {
        return Vec::new();
    };
    let mut names: Vec<String> = list
        .data
        .into_iter()
        .filter_map(|e| e.id.as_str().map(str::to_owned))
        .filter(|id| {
            !id.is_empty()
                && id.chars().count() <= MAX_MODEL_CHARS
                && !id.chars().any(char::is_control)
        })
        .take(MAX_MODELS)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::{endpoint, model_names};

    #[test]
    fn endpoints_are_built_with_or_without_v1_in_the_base() {
        assert_eq!(
            endpoint("https://api.openai.com", "models"),
            "https://api.openai.com/v1/models"
        );
        assert_eq!(
            endpoint("http://h:8080/v1/", "models"),
            "http://h:8080/v1/models"
        );
        assert_eq!(
            endpoint("http://h/proxy/v1", "messages"),
            "http://h/proxy/v1/messages"
        );
    }

    #[test]
    fn model_lists_are_read_sorted_and_bounded() {
        let body = br#"{"object":"list","data":[{"id":"b"},{"id":"a"},{"id":"b"},{"id":7},{"id":""},{"id":"x\ny"}]}"#;
        assert_eq!(model_names(body), ["a", "b"]);
        assert!(model_names(b"<html>").is_empty());
        assert!(model_names(br#"{"models":[]}"#).is_empty());
        let long = format!(r#"{{"data":[{{"id":"{}"}}]}}"#, "m".repeat(300));
        assert!(model_names(long.as_bytes()).is_empty());
    }
}
