//! The auth probe: one cheap call that exercises the provider key before an LLM is saved, so a
//! wrong key shows up at registration instead of at the first chat.
//!
//! OpenAI-family providers: `GET <base>/v1/models`. Anthropic: `POST <base>/v1/messages` with
//! `max_tokens: 1`. Never logs or returns the key, nor the provider's answer body.

use std::time::Duration;

use app::api::{ProbeOutcome, ProbeReport, Provider};

const TIMEOUT: Duration = Duration::from_secs(10);
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `<base>/v1/<path>`, whether or not the base already ends in `/v1`.
pub fn endpoint(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/{path}")
}

#[tracing::instrument(skip_all, fields(provider = provider.as_str()))]
pub async fn probe(
    client: &reqwest::Client,
    provider: Provider,
    base: &str,
    model: &str,
    key: &str,
) -> ProbeReport {
    let request = match provider {
        Provider::Anthropic => client
            .post(endpoint(base, "messages"))
            .header("x-api-key", key)
            .header("anthropic-version", ANTHROPIC_VERSION)
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
        | Provider::OpenaiCompatible => client.get(endpoint(base, "models")).bearer_auth(key),
    };
    let report = match request.timeout(TIMEOUT).send().await {
        Err(e) => ProbeReport {
            outcome: ProbeOutcome::Unreachable,
            status: None,
            message: format!(
                "Could not reach the provider ({}) — saved anyway.",
                if e.is_timeout() {
                    "no answer in time"
                } else {
                    "connection failed"
                }
            ),
        },
        Ok(answer) => {
            let status = answer.status().as_u16();
            match status {
                200..=299 => ProbeReport { outcome: ProbeOutcome::Ok, status: Some(status), message: "The provider accepted the key.".into() },
                300..=399 => ProbeReport {
                    outcome: ProbeOutcome::Unexpected,
                    status: Some(status),
                    message: format!(
                        "The provider answered the check with a redirect (HTTP {status}), which Hearth does not follow with \
                         the key: set the base URL to where it points — saved anyway."
                    ),
                },
                401 | 403 => ProbeReport {
                    outcome: ProbeOutcome::Auth,
                    status: Some(status),
                    message: format!("The provider rejected this key ({status})."),
                },
                _ => ProbeReport {
                    outcome: ProbeOutcome::Unexpected,
                    status: Some(status),
                    message: format!("The provider answered the check with HTTP {status} — saved anyway."),
                },
            }
        }
    };
    tracing::info!(outcome = ?report.outcome, status = report.status, "LLM auth probe");
    report
}

#[cfg(test)]
mod tests {
    use super::endpoint;

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
}
