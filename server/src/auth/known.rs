//! Callers known from their recent requests: the API keys, browser sessions, users signed in
//! with a password and users' teams read for them, kept a few seconds so that a caller's next
//! requests ask the database nothing.
//!
//! What is kept must never outlive the change that ends it. Every write that changes who a
//! caller is or what they may reach (a key revoked, a team's members set, a team deleted, a
//! session written at sign-in or sign-out; a user changed or deleted, should that ever be
//! possible) calls [`forget_everywhere`] once it is written: on this instance at once and,
//! through `changes`, on every instance sharing a PostgreSQL database. [`FRESH`] bounds what a
//! notice that never arrives (or an instance on the same SQLite file) leaves standing. A key's
//! and a session's expiry are checked at every use. Only what was found is kept: an unknown key
//! or cookie is looked up every time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use tower_sessions::session::{Id, Record};

use super::Principal;
use crate::changes::Change;
use crate::db::Db;
use crate::keys::ActiveKey;

/// How long an entry is used without being read again from the database.
pub const FRESH: Duration = Duration::from_secs(5);
/// Entries kept of each kind at most; past it they are all dropped and read again.
const MOST: usize = 4_096;

/// Read before the database is asked, given back with what it answered: an answer read
/// before a [`Known::forget`] is not kept after it.
#[derive(Clone, Copy, Debug)]
pub struct Era(u64);

struct Kept<T> {
    value: T,
    era: u64,
    at: Instant,
}

/// A key as kept: what the database said, and when its use was last noted.
struct KeptKey {
    key: ActiveKey,
    noted: AtomicI64,
}

#[derive(Default)]
pub struct Known {
    era: AtomicU64,
    /// By the key's hash.
    keys: RwLock<HashMap<String, Kept<KeptKey>>>,
    /// By user id.
    teams: RwLock<HashMap<i64, Kept<Vec<String>>>>,
    /// Users signed in with a password, as their sessions' requests act, by user id.
    users: RwLock<HashMap<i64, Kept<Principal>>>,
    /// Browser sessions' records, by session id.
    sessions: RwLock<HashMap<Id, Kept<Record>>>,
}

/// Never what is kept: session ids and keys' hashes stay out of logs.
impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Known")
            .field("era", &self.era.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Known {
    /// To be read before the database is asked for what will be kept.
    pub fn era(&self) -> Era {
        Era(self.era.load(Ordering::SeqCst))
    }

    /// Drops everything kept, and whatever is being read at this moment: called after every
    /// write that changes a key, a user's teams or a team.
    pub fn forget(&self) {
        self.era.fetch_add(1, Ordering::SeqCst);
        write(&self.keys).clear();
        write(&self.teams).clear();
        write(&self.users).clear();
        write(&self.sessions).clear();
    }

    /// The key of hash `hash` if it is kept, fresh and unexpired at `now` (Unix seconds), and
    /// whether its use should be noted (it was last noted `granularity` seconds ago or more;
    /// one caller is told so).
    pub fn key(&self, hash: &str, now: i64, granularity: i64) -> Option<(ActiveKey, bool)> {
        let keys = read(&self.keys);
        let kept = self.fresh(keys.get(hash))?;
        if kept.key.expires_at.is_some_and(|at| at <= now) {
            return None;
        }
        let noted = kept.noted.load(Ordering::Relaxed);
        let note = now - noted >= granularity
            && kept
                .noted
                .compare_exchange(noted, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        Some((kept.key.clone(), note))
    }

    /// Keeps `key`, read in `era`, its use noted at `noted` (Unix seconds).
    pub fn keep_key(&self, era: Era, key: &ActiveKey, noted: i64) {
        let kept = KeptKey {
            key: key.clone(),
            noted: AtomicI64::new(noted),
        };
        self.keep(&self.keys, era, key.key_hash.clone(), kept);
    }

    /// The teams of user `user_id`, if kept and fresh.
    pub fn teams(&self, user_id: i64) -> Option<Vec<String>> {
        let teams = read(&self.teams);
        self.fresh(teams.get(&user_id)).cloned()
    }

    /// Keeps `teams` as user `user_id`'s, read in `era`.
    pub fn keep_teams(&self, era: Era, user_id: i64, teams: &[String]) {
        self.keep(&self.teams, era, user_id, teams.to_vec());
    }

    /// User `user_id` as a password sign-in acts, if kept and fresh.
    pub fn user(&self, user_id: i64) -> Option<Principal> {
        self.fresh(read(&self.users).get(&user_id)).cloned()
    }

    /// Keeps `principal` (a password sign-in's), read in `era`.
    pub fn keep_user(&self, era: Era, user_id: i64, principal: &Principal) {
        self.keep(&self.users, era, user_id, principal.clone());
    }

    /// Session `id`'s record, if kept, fresh and unexpired.
    pub fn session(&self, id: &Id) -> Option<Record> {
        let sessions = read(&self.sessions);
        let record = self.fresh(sessions.get(id))?;
        (record.expiry_date > time::OffsetDateTime::now_utc()).then(|| record.clone())
    }

    /// Keeps session `record`, read in `era`.
    pub fn keep_session(&self, era: Era, record: &Record) {
        self.keep(&self.sessions, era, record.id, record.clone());
    }

    fn fresh<'a, T>(&self, kept: Option<&'a Kept<T>>) -> Option<&'a T> {
        let kept = kept?;
        (kept.era == self.era.load(Ordering::SeqCst) && kept.at.elapsed() < FRESH)
            .then_some(&kept.value)
    }

    fn keep<K: std::hash::Hash + Eq, T>(
        &self,
        map: &RwLock<HashMap<K, Kept<T>>>,
        Era(era): Era,
        key: K,
        value: T,
    ) {
        let mut map = write(map);
        // Checked under the lock that `forget` takes to clear: an answer read before a
        // forget is never kept after it.
        if era != self.era.load(Ordering::SeqCst) {
            return;
        }
        if map.len() >= MOST {
            map.clear();
        }
        map.insert(
            key,
            Kept {
                value,
                era,
                at: Instant::now(),
            },
        );
    }
}

/// After a write that changes a caller (see the module's header): what `known` keeps is
/// dropped here at once, and on the other instances sharing `db` within moments.
pub async fn forget_everywhere(known: &Known, db: &Db) {
    known.forget();
    crate::changes::announce(db, Change::Callers).await;
}

/// A poisoned lock only means a panic elsewhere while it was held; what it guards is a cache
/// whose entries are each checked on use.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: &str, expires_at: Option<i64>) -> ActiveKey {
        ActiveKey::unnarrowed(7, 3, hash, expires_at)
    }

    #[test]
    fn a_kept_key_is_known_until_forgotten() {
        let known = Known::default();
        known.keep_key(known.era(), &key("h1", None), 1_000);
        assert_eq!(known.key("h1", 1_010, 60).map(|(k, _)| k.key_id), Some(7));
        assert!(known.key("h2", 1_010, 60).is_none());
        known.forget();
        assert!(known.key("h1", 1_010, 60).is_none());
    }

    #[test]
    fn what_was_read_before_a_forget_is_not_kept_after_it() {
        let known = Known::default();
        let era = known.era();
        known.forget();
        known.keep_key(era, &key("h1", None), 1_000);
        known.keep_teams(era, 3, &["ops".to_owned()]);
        assert!(known.key("h1", 1_010, 60).is_none());
        assert!(known.teams(3).is_none());
    }

    #[test]
    fn an_expired_key_is_not_known() {
        let known = Known::default();
        known.keep_key(known.era(), &key("h1", Some(2_000)), 1_000);
        assert!(known.key("h1", 1_999, 60).is_some());
        assert!(known.key("h1", 2_000, 60).is_none());
    }

    #[test]
    fn a_keys_use_is_noted_once_a_minute_by_one_caller() {
        let known = Known::default();
        known.keep_key(known.era(), &key("h1", None), 1_000);
        let note = |now| known.key("h1", now, 60).unwrap().1;
        assert!(!note(1_030));
        assert!(note(1_060));
        assert!(!note(1_060));
        assert!(!note(1_119));
        assert!(note(1_120));
    }

    #[test]
    fn kept_teams_are_known_until_forgotten() {
        let known = Known::default();
        known.keep_teams(known.era(), 3, &["ops".to_owned(), "web".to_owned()]);
        assert_eq!(
            known.teams(3),
            Some(vec!["ops".to_owned(), "web".to_owned()])
        );
        assert!(known.teams(4).is_none());
        known.forget();
        assert!(known.teams(3).is_none());
    }

    #[test]
    fn a_kept_user_is_known_until_forgotten() {
        let known = Known::default();
        let user = crate::users::UserRow {
            id: 3,
            name: "ana".into(),
            password_hash: None,
            role: app::api::Role::Viewer,
            created_at: 0,
        };
        let principal = Principal::from_user(&user, super::super::Channel::Cookie);
        known.keep_user(known.era(), 3, &principal);
        let kept = known.user(3).unwrap();
        assert_eq!(
            (kept.name.as_str(), kept.role),
            ("ana", app::api::Role::Viewer)
        );
        assert!(known.user(4).is_none());
        known.forget();
        assert!(known.user(3).is_none());
    }

    #[test]
    fn a_kept_session_is_known_until_it_expires_or_is_forgotten() {
        let known = Known::default();
        let now = time::OffsetDateTime::now_utc();
        let record = |id, expiry_date| Record {
            id: Id(id),
            data: Default::default(),
            expiry_date,
        };
        known.keep_session(known.era(), &record(1, now + time::Duration::days(1)));
        known.keep_session(known.era(), &record(2, now - time::Duration::seconds(1)));
        assert_eq!(known.session(&Id(1)).map(|r| r.id), Some(Id(1)));
        assert!(known.session(&Id(2)).is_none(), "expired");
        assert!(known.session(&Id(3)).is_none());
        known.forget();
        assert!(known.session(&Id(1)).is_none());
    }

    #[test]
    fn an_entry_older_than_fresh_is_read_again() {
        let known = Known::default();
        known.keep_teams(known.era(), 3, &[]);
        assert_eq!(known.teams(3), Some(vec![]));
        let Some(past) = Instant::now().checked_sub(FRESH) else {
            return;
        };
        write(&known.teams).get_mut(&3).unwrap().at = past;
        assert!(known.teams(3).is_none());
    }

    #[test]
    fn no_more_than_most_entries_are_kept() {
        let known = Known::default();
        for id in 0..(MOST as i64 + 10) {
            known.keep_teams(known.era(), id, &[]);
        }
        assert!(read(&known.teams).len() <= MOST);
        assert!(known.teams(MOST as i64 + 9).is_some());
    }
}
