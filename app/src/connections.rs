//! The browser's live connections to personal MCP servers, shared by every page (the MCP
//! servers page connects; chat will call tools). State the UI shows lives in signals here;
//! the clients themselves live in the browser only.

use std::collections::HashMap;

use leptos::prelude::*;

use crate::api::PersonalMcpServer;
use crate::mcp::{LogEntry, Tool};

/// How long a connection may take, from the first request to the tools listed.
pub const HANDSHAKE_TIMEOUT_MS: i32 = 15_000;

#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Disconnected,
    Connecting,
    Connected,
    Failed(String),
}

/// What the UI shows of one server's connection.
#[derive(Clone, Copy)]
pub struct Runtime {
    pub status: RwSignal<Status>,
    pub tools: RwSignal<Vec<Tool>>,
    pub log: RwSignal<Vec<LogEntry>>,
}

#[derive(Clone, Copy)]
pub struct Connections {
    runtimes: StoredValue<HashMap<i64, Runtime>>,
    /// The app's owner: a server's signals live as long as the app, not as long as the view
    /// that first showed the server (lists are re-rendered on every change).
    owner: StoredValue<Option<Owner>>,
}

pub fn use_connections() -> Connections {
    expect_context::<Connections>()
}

impl Connections {
    pub fn new() -> Connections {
        Connections {
            runtimes: StoredValue::new(HashMap::new()),
            owner: StoredValue::new(Owner::current()),
        }
    }

    /// The state of server `id`, created on first use.
    pub fn runtime(&self, id: i64) -> Runtime {
        if let Some(runtime) = self.runtimes.with_value(|m| m.get(&id).copied()) {
            return runtime;
        }
        let make = || Runtime {
            status: RwSignal::new(Status::Disconnected),
            tools: RwSignal::new(Vec::new()),
            log: RwSignal::new(Vec::new()),
        };
        let runtime = match self.owner.get_value() {
            Some(owner) => owner.with(make),
            None => make(),
        };
        self.runtimes.update_value(|m| {
            m.insert(id, runtime);
        });
        runtime
    }

    /// Connects to `server` and lists its tools, replacing any earlier connection.
    pub fn connect(&self, server: PersonalMcpServer) {
        let runtime = self.runtime(server.id);
        runtime.status.set(Status::Connecting);
        runtime.tools.set(Vec::new());
        runtime.log.set(Vec::new());
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(live::connect(server, runtime));
    }

    pub fn disconnect(&self, id: i64) {
        let runtime = self.runtime(id);
        runtime.status.set(Status::Disconnected);
        runtime.tools.set(Vec::new());
        #[cfg(feature = "hydrate")]
        leptos::task::spawn_local(live::disconnect(id));
    }

    /// Runs `tool` on `server` over its live connection; the error is in words.
    #[cfg(feature = "hydrate")]
    pub async fn call_tool(
        &self,
        server: &PersonalMcpServer,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<crate::mcp::CallToolResult, String> {
        live::call_tool(server, tool, arguments).await
    }

    /// Forgets a deleted server.
    pub fn forget(&self, id: i64) {
        self.disconnect(id);
        self.runtimes.update_value(|m| {
            m.remove(&id);
        });
    }
}

impl Default for Connections {
    fn default() -> Self {
        Connections::new()
    }
}

#[cfg(feature = "hydrate")]
mod live {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::rc::Rc;

    use futures::lock::Mutex;
    use leptos::prelude::*;

    use super::{Runtime, Status, HANDSHAKE_TIMEOUT_MS};
    use crate::api::PersonalMcpServer;
    use crate::mcp::browser::{now_ms, within, FetchTransport};
    use crate::mcp::log::MAX_ENTRIES;
    use crate::mcp::{LogEntry, McpClient, ServerConfig};

    type Client = Rc<Mutex<McpClient<FetchTransport>>>;

    thread_local! {
        static CLIENTS: RefCell<HashMap<i64, Client>> = RefCell::new(HashMap::new());
    }

    pub async fn connect(server: PersonalMcpServer, runtime: Runtime) {
        disconnect(server.id).await;
        let log = runtime.log;
        let sink = Rc::new(move |entry: LogEntry| {
            log.update(|entries| {
                entries.push(entry);
                if entries.len() > MAX_ENTRIES {
                    entries.remove(0);
                }
            })
        });
        let config = ServerConfig {
            url: server.url.clone(),
            transport: server.transport,
            headers: server
                .headers
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        };
        let mut client =
            McpClient::new(FetchTransport::new(server.use_proxy), config, sink.clone());
        let started = now_ms();
        let outcome = within(HANDSHAKE_TIMEOUT_MS, async {
            client.connect().await?;
            client.list_tools().await
        })
        .await;
        // The user may have pressed "Disconnect" meanwhile.
        if runtime.status.get_untracked() != Status::Connecting {
            return;
        }
        match outcome {
            None => {
                sink(LogEntry::note("handshake timed out"));
                runtime.status.set(Status::Failed(format!(
                    "The MCP server did not complete the handshake within {} seconds.",
                    HANDSHAKE_TIMEOUT_MS / 1000
                )));
            }
            Some(Err(e)) => runtime
                .status
                .set(Status::Failed(e.explain(server.use_proxy))),
            Some(Ok(tools)) => {
                sink(LogEntry::note(format!(
                    "connected: {} tools listed in {:.0} ms",
                    tools.len(),
                    now_ms() - started
                )));
                runtime.tools.set(tools);
                runtime.status.set(Status::Connected);
                CLIENTS.with(|c| {
                    c.borrow_mut()
                        .insert(server.id, Rc::new(Mutex::new(client)))
                });
            }
        }
    }

    pub async fn call_tool(
        server: &PersonalMcpServer,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<crate::mcp::CallToolResult, String> {
        let client = CLIENTS.with(|c| c.borrow().get(&server.id).cloned());
        let Some(client) = client else {
            return Err(format!(
                "The MCP server “{}” is not connected.",
                server.name
            ));
        };
        let mut client = client.lock().await;
        client
            .call_tool(tool, arguments)
            .await
            .map_err(|e| e.explain(server.use_proxy))
    }

    pub async fn disconnect(id: i64) {
        let client = CLIENTS.with(|c| c.borrow_mut().remove(&id));
        if let Some(client) = client {
            client.lock().await.close().await;
        }
    }
}
