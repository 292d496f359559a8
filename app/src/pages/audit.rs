//! The "Audit" page (admins and viewers): calls to the LLM gateway, newest first, with
//! filters. Never a prompt, a completion or a key: the trail does not hold them.

use leptos::prelude::*;

use crate::components::{DataTable, NotForRole};
use leptos::task::spawn_local;
use leptos_meta::Title;

use crate::api::{client, AuditEvent, AuditQuery};
use crate::format;

const PAGE: u32 = 100;

#[component]
pub fn AuditPage() -> impl IntoView {
    if !crate::session::use_session().can(|c| c.read_audit) {
        return view! {
            <Title text="Audit — Hearth"/>
            <h1>"Audit"</h1>
            <NotForRole for_whom="The audit trail is for admins and viewers."/>
        }
        .into_any();
    }
    let llm = RwSignal::new(String::new());
    let principal = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<AuditEvent>::new());
    let next_before = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);

    // Loads the first page for the current filters, or the next one after `before`.
    let load = move |before: Option<i64>| {
        let status_filter = status.get_untracked().trim().to_owned();
        let status_filter = match status_filter.parse::<u16>() {
            Ok(code) => Some(code),
            Err(_) if status_filter.is_empty() => None,
            Err(_) => {
                error.set(Some(
                    "The status filter must be an HTTP status such as 200 or 502.".into(),
                ));
                return;
            }
        };
        let query = AuditQuery {
            llm: Some(llm.get_untracked()),
            principal: Some(principal.get_untracked()),
            status: status_filter,
            before,
            limit: Some(PAGE),
            ..AuditQuery::default()
        };
        loading.set(true);
        error.set(None);
        spawn_local(async move {
            match client::list_audit(&query).await {
                Ok(page) => {
                    if before.is_some() {
                        events.update(|e| e.extend(page.data));
                    } else {
                        events.set(page.data);
                    }
                    next_before.set(page.next_before);
                }
                Err(e) => error.set(Some(e.message)),
            }
            loading.set(false);
        });
    };
    Effect::new(move |_| load(None));

    view! {
        <Title text="Audit — Hearth"/>
        <h1>"Audit"</h1>
        <p class="muted">
            "One entry per call to the LLM gateway: who, which LLM, how long, how it ended. \
             Prompts, answers and keys are never recorded."
        </p>
        <form class="card form-row" on:submit=move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            load(None);
        }>
            <div class="field">
                <label for="audit-llm">"LLM"</label>
                <input id="audit-llm" placeholder="any" bind:value=llm/>
            </div>
            <div class="field">
                <label for="audit-principal">"User"</label>
                <input id="audit-principal" placeholder="any" bind:value=principal/>
            </div>
            <div class="field">
                <label for="audit-status">"Status"</label>
                <input id="audit-status" inputmode="numeric" placeholder="any" bind:value=status/>
            </div>
            <button type="submit" class="button primary">"Filter"</button>
        </form>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || {
            let list = events.get();
            if list.is_empty() {
                let text = if loading.get() { "Loading…" } else { "No calls recorded yet." };
                return view! { <p class="muted">{text}</p> }.into_any();
            }
            view! { <AuditTable events=list/> }.into_any()
        }}
        <Show when=move || next_before.get().is_some()>
            <button type="button" class="button" disabled=move || loading.get() on:click=move |_| load(next_before.get_untracked())>
                "Older entries"
            </button>
        </Show>
    }
    .into_any()
}

fn tokens(event: &AuditEvent) -> String {
    match (event.prompt_tokens, event.completion_tokens) {
        (None, None) => "—".into(),
        (p, c) => format!(
            "{} → {}",
            p.map(|n| n.to_string()).unwrap_or("?".into()),
            c.map(|n| n.to_string()).unwrap_or("?".into())
        ),
    }
}

/// The status in words: 499 is a client that went away.
fn outcome(status: u16) -> String {
    match status {
        200..=299 => format!("{status} ok"),
        499 => "499 client left".into(),
        _ => status.to_string(),
    }
}

#[component]
fn AuditTable(events: Vec<AuditEvent>) -> impl IntoView {
    let rows = events
        .into_iter()
        .map(|e| {
            let class = if (200..300).contains(&e.status) { "badge ok" } else { "badge failed" };
            view! {
                <tr data-testid="audit-row">
                    <td data-label="When">{format::date_time(e.at)}</td>
                    <td data-label="Who">{e.principal.clone()}{e.key_hash_prefix.clone().map(|k| view! { <div class="muted small"><code>{k}</code></div> })}</td>
                    <td data-label="LLM">
                        {e.llm.clone().or_else(|| e.target.clone()).unwrap_or_default()}
                        {(e.kind != crate::api::LLM_INFERENCE_CALL).then(|| view! { <div class="muted small">{e.kind.clone()}</div> })}
                    </td>
                    <td data-label="Upstream model"><code>{e.model.clone().unwrap_or_default()}</code></td>
                    <td data-label="Mode">{if e.streaming == Some(true) { "stream" } else { "whole" }}</td>
                    <td data-label="Status"><span class=class>{outcome(e.status)}</span></td>
                    <td data-label="Duration">{format!("{} ms", e.duration_ms)}</td>
                    <td data-label="Tokens (in → out)">{tokens(&e)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <DataTable label="Audit events" columns=&["When", "Who", "LLM", "Upstream model", "Mode", "Status", "Duration", "Tokens (in → out)"]>{rows}</DataTable>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_and_tokens_read_plainly() {
        assert_eq!(outcome(200), "200 ok");
        assert_eq!(outcome(499), "499 client left");
        assert_eq!(outcome(502), "502");
        let mut event = AuditEvent {
            id: 1,
            at: 0,
            kind: "llm_inference_call".into(),
            principal: "ana".into(),
            key_hash_prefix: None,
            llm: None,
            model: None,
            streaming: None,
            duration_ms: 1,
            status: 200,
            prompt_tokens: Some(3),
            completion_tokens: None,
            target: None,
            client: None,
        };
        assert_eq!(tokens(&event), "3 → ?");
        event.prompt_tokens = None;
        assert_eq!(tokens(&event), "—");
    }
}
