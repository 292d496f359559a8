//! What `tools/list` answers on a path, kept while what it was made from stays the same: the
//! same registry rows (a registry change makes new ones) and the same tool lists in the pool
//! (a server's new list is a new one). A warm list of a thousand tools is then a lookup and a
//! copy, not a thousand tools filtered, renamed and written out again. Calls on `/mcp` find
//! the tool a name stands for in it too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::body::Bytes;
use rmcp::model::{ListToolsResult, ServerResult, Tool};

use crate::mcp::registry::ServerRow;

/// One path's tools, as made from `from`.
pub(super) struct Listing {
    /// The servers asked and the tool lists they gave, held (so that none is mistaken for
    /// another made later at the same address).
    from: Vec<(Arc<ServerRow>, Arc<Vec<Tool>>)>,
    /// Whether the tools are every server's, prefixed (`/mcp`), or one server's.
    every: bool,
    pub(super) result: ListToolsResult,
    /// Each tool's name as offered here: its server and its own name there.
    pub(super) names: HashMap<String, (Arc<ServerRow>, String)>,
    /// `result` as a client of a revision before 2026-07-28 gets it, written once.
    legacy: OnceLock<Bytes>,
}

impl Listing {
    pub(super) fn new(
        from: Vec<(Arc<ServerRow>, Arc<Vec<Tool>>)>,
        every: bool,
        result: ListToolsResult,
        names: HashMap<String, (Arc<ServerRow>, String)>,
    ) -> Listing {
        Listing {
            from,
            every,
            result,
            names,
            legacy: OnceLock::new(),
        }
    }

    fn made_from(&self, every: bool, from: &[(Arc<ServerRow>, Arc<Vec<Tool>>)]) -> bool {
        self.every == every
            && self.from.len() == from.len()
            && self
                .from
                .iter()
                .zip(from)
                .all(|((r, t), (r2, t2))| Arc::ptr_eq(r, r2) && Arc::ptr_eq(t, t2))
    }

    /// The result's JSON for a client of a revision before 2026-07-28.
    pub(super) fn legacy_json(&self) -> &Bytes {
        self.legacy.get_or_init(|| {
            let mut result = ServerResult::ListToolsResult(self.result.clone());
            result.strip_result_type_for_legacy_peer();
            Bytes::from(serde_json::to_vec(&result).unwrap_or_default())
        })
    }
}

/// The listings kept: the last few made (callers with the same servers share one).
#[derive(Default)]
pub struct Listings(Mutex<Vec<Arc<Listing>>>);

const KEPT: usize = 32;

impl Listings {
    pub(super) fn find(
        &self,
        every: bool,
        from: &[(Arc<ServerRow>, Arc<Vec<Tool>>)],
    ) -> Option<Arc<Listing>> {
        let kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter().find(|l| l.made_from(every, from)).cloned()
    }

    pub(super) fn keep(&self, listing: Arc<Listing>) {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEPT {
            kept.remove(0);
        }
        kept.push(listing);
    }
}
