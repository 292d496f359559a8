//! Sign-in under bounds: password hashing never runs more than once per core at a time (each
//! argon2 check holds ~19 MiB), and failed sign-ins slow down whoever keeps failing.
//!
//! Failures are counted per client address and per user name by `governor` limiters, each
//! with a short and a long tier, so the delay grows from none to seconds to minutes as
//! failures go on. Once a limiter refuses, that address (or name) is refused every attempt,
//! right or wrong, until the limiter would allow one again: a guess that happens to be right
//! is worth nothing while blocked. Keys Hearth generates (`hk-`, 256 random bits) cannot be
//! guessed, so their failures are logged but never block: behind a reverse proxy every
//! client shares one address, and one bad client must not lock the others out of the API.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::AppError;

/// How long a sign-in waits for a hashing slot before it is told to come back.
const HASH_WAIT: Duration = Duration::from_secs(2);
/// How many sign-ins may wait for a slot, per core; beyond that they are refused at once.
const WAITING_PER_CORE: usize = 4;
/// User names longer than this are counted by their first characters.
const MAX_NAME: usize = 64;

/// `burst` failures at once, then one more every `every`.
fn quota(burst: u32, every: Duration) -> Quota {
    Quota::with_period(every)
        .expect("a non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("a non-zero burst"))
}

/// Failures of one kind of key (address or name): two tiers and who is blocked until when.
struct Failures<K: Hash + Eq + Clone> {
    short: DefaultKeyedRateLimiter<K>,
    long: DefaultKeyedRateLimiter<K>,
    blocked: Mutex<HashMap<K, Instant>>,
}

impl<K: Hash + Eq + Clone> Failures<K> {
    fn new(short: Quota, long: Quota) -> Self {
        Failures {
            short: DefaultKeyedRateLimiter::keyed(short),
            long: DefaultKeyedRateLimiter::keyed(long),
            blocked: Mutex::default(),
        }
    }

    /// How long `key` must still wait, if it is blocked.
    fn wait(&self, key: &K) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        blocked
            .get(key)
            .and_then(|until| until.checked_duration_since(Instant::now()))
    }

    /// Counts one failure of `key`; blocks it when either tier is spent.
    fn failed(&self, key: &K) {
        let now = self.short.clock().now();
        let waits = [self.short.check_key(key), self.long.check_key(key)]
            .into_iter()
            .filter_map(Result::err)
            .map(|not_until| not_until.wait_time_from(now))
            .max();
        if let Some(wait) = waits {
            self.blocked
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(key.clone(), Instant::now() + wait);
        }
    }

    /// Forgets what no longer matters: expired blocks, limiter states back to full.
    fn prune(&self) {
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, until| *until > now);
        self.short.retain_recent();
        self.long.retain_recent();
    }
}

/// The sign-in guard every credential check goes through; one per server.
#[derive(Clone)]
pub struct SignInGuard(Arc<Inner>);

struct Inner {
    hashing: Arc<Semaphore>,
    waiters: AtomicUsize,
    waiting_limit: usize,
    by_address: Failures<IpAddr>,
    by_name: Failures<String>,
    /// Failures logged and audited: 60 at once, then one a second.
    recorded_failures: DefaultDirectRateLimiter,
    /// Failures left out of the log and the audit trail since the last recorded one.
    left_out: AtomicU64,
}

/// A refusal to even try: too many failures lately, or too many sign-ins at once.
fn too_many(wait: Duration, message: &str) -> AppError {
    AppError::TooManyRequests {
        message: message.to_owned(),
        retry_after_secs: wait.as_secs().max(1),
    }
}

impl SignInGuard {
    pub fn new() -> SignInGuard {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let guard = SignInGuard(Arc::new(Inner {
            hashing: Arc::new(Semaphore::new(cores)),
            waiters: AtomicUsize::new(0),
            waiting_limit: cores * WAITING_PER_CORE,
            // An address: 20 failures at once, then one every 3 s; past 200, one every 30 s.
            by_address: Failures::new(
                quota(20, Duration::from_secs(3)),
                quota(200, Duration::from_secs(30)),
            ),
            // A user name: 5 failures at once, then one every 12 s; past 30, one every 2 min.
            by_name: Failures::new(
                quota(5, Duration::from_secs(12)),
                quota(30, Duration::from_secs(120)),
            ),
            recorded_failures: DefaultDirectRateLimiter::direct(quota(60, Duration::from_secs(1))),
            left_out: AtomicU64::new(0),
        }));
        let weak = Arc::downgrade(&guard.0);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let Some(inner) = weak.upgrade() else { break };
                    inner.by_address.prune();
                    inner.by_name.prune();
                }
            });
        }
        guard
    }

    /// Refuses at once when `address` (or `name`, when given) has failed too often lately.
    pub fn check(&self, address: IpAddr, name: Option<&str>) -> Result<(), AppError> {
        let by_address = self.0.by_address.wait(&client_key(address));
        let by_name = name.and_then(|n| self.0.by_name.wait(&name_key(n)));
        match by_address.into_iter().chain(by_name).max() {
            Some(wait) => Err(too_many(
                wait,
                "too many failed sign-ins: wait before trying again",
            )),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in from `address` (as `name`, when one was given).
    pub fn failed(&self, address: IpAddr, name: Option<&str>) {
        self.0.by_address.failed(&client_key(address));
        if let Some(name) = name {
            self.0.by_name.failed(&name_key(name));
        }
    }

    /// Whether one more failure may go to the log and the audit trail now: `Some` with how
    /// many were left out since the last one that did, `None` to leave this one out.
    pub fn may_record_failure(&self) -> Option<u64> {
        match self.0.recorded_failures.check() {
            Ok(()) => Some(self.0.left_out.swap(0, Ordering::Relaxed)),
            Err(_) => {
                self.0.left_out.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// A slot to hash a password in: at once if one is free, after a short wait otherwise, or
    /// a 429 when too many sign-ins are already waiting.
    pub async fn hashing_slot(&self) -> Result<OwnedSemaphorePermit, AppError> {
        // A 429, not a 503: the refusal is cheap and expected under a burst, not a failure of
        // Hearth's to log as one.
        let busy = || {
            too_many(
                Duration::from_secs(1),
                "too many sign-ins at once: try again in a moment",
            )
        };
        if let Ok(permit) = self.0.hashing.clone().try_acquire_owned() {
            return Ok(permit);
        }
        // Waiters hold no argon2 memory, only their request; still, not without bound.
        if self.0.waiters.fetch_add(1, Ordering::Relaxed) >= self.0.waiting_limit {
            self.0.waiters.fetch_sub(1, Ordering::Relaxed);
            return Err(busy());
        }
        let _waiting = Waiting(&self.0.waiters);
        match tokio::time::timeout(HASH_WAIT, self.0.hashing.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(busy()),
        }
    }
}

/// Counts one waiter for as long as it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An IPv6 client is counted by its /64: one host usually holds the whole network.
fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        IpAddr::V6(v6) => IpAddr::V4(v6.to_ipv4_mapped().expect("checked above")),
        v4 => v4,
    }
}

fn name_key(name: &str) -> String {
    name.trim()
        .chars()
        .take(MAX_NAME)
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_blocked_once_its_allowance_is_spent_and_others_are_not() {
        let guard = SignInGuard::new();
        let here: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..6 {
            assert!(guard.check(here, Some("ana")).is_ok());
            guard.failed(here, Some("ana"));
        }
        let refused = guard.check(here, Some("ANA ")).unwrap_err();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(
            guard.check(here, Some("bo")).is_ok(),
            "another name from the same address"
        );
    }

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_and_a_mapped_one_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_eq!(
            client_key("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[tokio::test]
    async fn a_flood_of_failures_is_recorded_as_a_trickle_that_counts_what_it_left_out() {
        let guard = SignInGuard::new();
        let recorded = (0..100).filter_map(|_| guard.may_record_failure()).count();
        assert_eq!(recorded, 60);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            guard.may_record_failure(),
            Some(40),
            "the next line says how many were left out"
        );
    }
}
