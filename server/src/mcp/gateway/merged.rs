//! Prompts and resources on `/mcp`: every server the caller may use, merged.
//!
//! - A prompt is named `<server>__<prompt>` by the rules that name tools there (the chat
//!   page's), and `prompts/get` finds the server and the prompt's own name again by listing
//!   the servers the name can belong to, now: what the caller may use is decided at get time
//!   as at list time.
//! - A resource's URI (and a template's) becomes `hearth://<server>/<its own URI>`, which
//!   `resources/read` takes apart again, checking that the caller may use that server; its
//!   name is prefixed as a prompt's is, and its title, when it had none, is its own name.
//!
//! Each server is asked in parallel under its own deadline; one that fails is left out and the
//! list's `_meta` says so, as for tools. A server that does not offer prompts (or resources)
//! is not asked. Not merged: completions, subscriptions, and URIs inside contents other than
//! a read's own (a resource link in a tool's result names the server's URI, which
//! `/mcp/{server}` reads).

use std::sync::Arc;

use rmcp::model::{
    ErrorData, GetPromptRequestParams, GetPromptResponse, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, Resource, ResourceContents, ResourceTemplate, ServerCapabilities,
};

use super::{servers_meta, Asker, Relay, Scope};
use crate::error::Echo;
use crate::mcp::registry::ServerRow;

/// Where a merged resource URI starts: `hearth://<server>/`.
const SCHEME: &str = "hearth://";

/// What the servers asked answered, each with its server, and the servers that did not
/// answer, with why.
type Gathered<T> = (
    Vec<(Arc<ServerRow>, Vec<T>)>,
    Vec<(Arc<ServerRow>, ErrorData)>,
);

fn merged_uri(server: &str, uri: &str) -> String {
    format!("{SCHEME}{server}/{uri}")
}

/// The server and the server's own URI that a merged URI stands for.
fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let (server, own) = uri.strip_prefix(SCHEME)?.split_once('/')?;
    (!server.is_empty() && !own.is_empty()).then_some((server, own))
}

impl Relay {
    /// Asks every server in `rows` that `offers` what `ask` asks, in parallel, each under
    /// its own deadline.
    async fn gather<T, Asking>(
        &self,
        asker: &Asker,
        rows: Vec<Arc<ServerRow>>,
        offers: fn(&ServerCapabilities) -> bool,
        ask: impl Fn(rmcp::Peer<rmcp::RoleClient>) -> Asking,
    ) -> Gathered<T>
    where
        Asking: std::future::Future<Output = Result<Vec<T>, rmcp::ServiceError>>,
    {
        let ask = &ask;
        let asked = futures_util::future::join_all(rows.into_iter().map(|row| async move {
            let asked = self
                .ask(&row, &asker.caller, |peer| async move {
                    match peer.peer_info() {
                        Some(info) if offers(&info.capabilities) => ask(peer).await,
                        _ => Ok(Vec::new()),
                    }
                })
                .await;
            (row, asked)
        }))
        .await;
        let mut listed = Vec::new();
        let mut failed = Vec::new();
        for (row, asked) in asked {
            match asked {
                Ok(items) => listed.push((row, items)),
                Err(error) => failed.push((row, error)),
            }
        }
        (listed, failed)
    }

    /// Every server the caller may use on `/mcp`, asked for its `T`s: all of them as `/mcp`
    /// lists them, and the list's `_meta`, which says how each server went.
    async fn merged_list<T: Merged, Asking>(
        &self,
        asker: &Asker,
        offers: fn(&ServerCapabilities) -> bool,
        ask: impl Fn(rmcp::Peer<rmcp::RoleClient>) -> Asking,
    ) -> Result<(Vec<T>, rmcp::model::MetaObject), ErrorData>
    where
        Asking: std::future::Future<Output = Result<Vec<T>, rmcp::ServiceError>>,
    {
        let rows = self.usable(&asker.principal, &Scope::All).await?;
        let (listed, failed) = self.gather(asker, rows, offers, ask).await;
        let meta = servers_meta(listed.iter().map(|(row, _)| row.name.as_str()), &failed);
        let items = merge_all(listed).into_iter().map(|(_, _, item)| item);
        Ok((items.collect(), meta))
    }

    /// `prompts/list` on `/mcp`.
    pub(super) async fn merged_prompts(
        &self,
        asker: &Asker,
    ) -> Result<ListPromptsResult, ErrorData> {
        let (prompts, meta) = self
            .merged_list(asker, offers_prompts, |peer| async move {
                peer.list_all_prompts().await
            })
            .await?;
        let mut result = ListPromptsResult::with_all_items(prompts);
        result.meta = Some(meta);
        Ok(result)
    }

    /// `prompts/get` on `/mcp`: the prompt `request` names, from its server, if the caller
    /// may use it now.
    pub(super) async fn merged_prompt(
        &self,
        asker: &Asker,
        mut request: GetPromptRequestParams,
    ) -> Result<GetPromptResponse, ErrorData> {
        // Only the servers the name can belong to are asked.
        let rows: Vec<_> = (self.usable(&asker.principal, &Scope::All).await?)
            .into_iter()
            .filter(|row| app::chat::tool_names::may_be_of(&request.name, &row.name))
            .collect();
        let (listed, mut failed) = self
            .gather(asker, rows, offers_prompts, |peer| async move {
                peer.list_all_prompts().await
            })
            .await;
        let found = merge_all::<Prompt>(listed)
            .into_iter()
            .find(|(_, _, prompt)| prompt.name == request.name);
        let Some((row, own, _)) = found else {
            // Not found where it could be: a server that could not say is the reason given.
            return Err(failed.pop().map(|(_, error)| error).unwrap_or_else(|| {
                ErrorData::invalid_params(
                    format!("no prompt named {} that you may use", Echo(&request.name)),
                    None,
                )
            }));
        };
        request.name = own;
        self.pass_on(&row, asker, |peer| async move {
            peer.get_prompt_once(request).await
        })
        .await
    }

    /// `resources/list` on `/mcp`.
    pub(super) async fn merged_resources(
        &self,
        asker: &Asker,
    ) -> Result<ListResourcesResult, ErrorData> {
        let (resources, meta) = self
            .merged_list(asker, offers_resources, |peer| async move {
                peer.list_all_resources().await
            })
            .await?;
        let mut result = ListResourcesResult::with_all_items(resources);
        result.meta = Some(meta);
        Ok(result)
    }

    /// `resources/templates/list` on `/mcp`.
    pub(super) async fn merged_templates(
        &self,
        asker: &Asker,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let (templates, meta) = self
            .merged_list(asker, offers_resources, |peer| async move {
                peer.list_all_resource_templates().await
            })
            .await?;
        let mut result = ListResourceTemplatesResult::with_all_items(templates);
        result.meta = Some(meta);
        Ok(result)
    }

    /// `resources/read` on `/mcp`: the resource a merged URI names, from its server, if the
    /// caller may use that server now; the contents' URIs merged again.
    pub(super) async fn merged_read(
        &self,
        asker: &Asker,
        mut request: ReadResourceRequestParams,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let merged = request.uri.clone();
        let refused = || {
            ErrorData::invalid_params(
                format!(
                    "no resource {} that you may use (resources at /mcp are {SCHEME}<server>/<the server's URI>)",
                    Echo(&merged)
                ),
                None,
            )
        };
        let (server, own) = split_uri(&merged).ok_or_else(refused)?;
        let scope = Scope::One(server.to_owned());
        let row = match self.usable(&asker.principal, &scope).await {
            Ok(rows) => rows.into_iter().next().ok_or_else(refused)?,
            Err(_) => return Err(refused()),
        };
        request.uri = own.to_owned();
        let read = self
            .pass_on(&row, asker, |peer| async move {
                peer.read_resource_once(request).await
            })
            .await?;
        Ok(match read {
            ReadResourceResponse::Complete(mut result) => {
                for contents in &mut result.contents {
                    if let ResourceContents::TextResourceContents { uri, .. }
                    | ResourceContents::BlobResourceContents { uri, .. } = contents
                    {
                        *uri = merged_uri(&row.name, uri);
                    }
                }
                ReadResourceResponse::Complete(result)
            }
            other => other,
        })
    }
}

fn offers_prompts(capabilities: &ServerCapabilities) -> bool {
    capabilities.prompts.is_some()
}

fn offers_resources(capabilities: &ServerCapabilities) -> bool {
    capabilities.resources.is_some()
}

/// An item of a list that `/mcp` merges.
trait Merged {
    fn name(&self) -> &str;
    /// The item as `/mcp` lists it: named `name`, and on `server`.
    fn merge(&mut self, server: &str, name: String) -> String;
}

impl Merged for Prompt {
    fn name(&self) -> &str {
        &self.name
    }

    fn merge(&mut self, _: &str, name: String) -> String {
        std::mem::replace(&mut self.name, name)
    }
}

impl Merged for Resource {
    fn name(&self) -> &str {
        &self.name
    }

    fn merge(&mut self, server: &str, name: String) -> String {
        self.uri = merged_uri(server, &self.uri);
        let own = std::mem::replace(&mut self.name, name);
        self.title.get_or_insert_with(|| own.clone());
        own
    }
}

impl Merged for ResourceTemplate {
    fn name(&self) -> &str {
        &self.name
    }

    fn merge(&mut self, server: &str, name: String) -> String {
        self.uri_template = merged_uri(server, &self.uri_template);
        let own = std::mem::replace(&mut self.name, name);
        self.title.get_or_insert_with(|| own.clone());
        own
    }
}

/// Every server's items as `/mcp` lists them (named by the rules that name tools there),
/// each with its server and its own name.
fn merge_all<T: Merged>(listed: Vec<(Arc<ServerRow>, Vec<T>)>) -> Vec<(Arc<ServerRow>, String, T)> {
    let pairs: Vec<(String, String)> = listed
        .iter()
        .flat_map(|(row, items)| {
            let server = &row.name;
            items
                .iter()
                .map(move |item| (server.clone(), item.name().to_owned()))
        })
        .collect();
    let names = app::chat::tool_names::assign(&pairs);
    listed
        .into_iter()
        .flat_map(|(row, items)| items.into_iter().map(move |item| (row.clone(), item)))
        .zip(names)
        .map(|((row, mut item), named)| {
            let own = item.merge(&row.name, named.name);
            (row, own, item)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_uri_names_its_server_and_the_servers_own_uri() {
        for own in [
            "test://static-text",
            "file:///a/b?c=d#e",
            "https://x.example/y",
            "hearth://other/z",
        ] {
            let merged = merged_uri("files", own);
            assert!(merged.starts_with("hearth://files/"), "{merged}");
            assert_eq!(split_uri(&merged), Some(("files", own)));
        }
        for not_merged in [
            "test://static-text",
            "hearth://",
            "hearth://files",
            "hearth://files/",
            "hearth:///test://x",
            "HEARTH://files/x",
        ] {
            assert_eq!(split_uri(not_merged), None, "{not_merged}");
        }
    }
}
