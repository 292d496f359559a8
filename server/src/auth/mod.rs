//! Identity: who is calling ([`Principal`]), what they may do ([`authorize`]), and the
//! sign-in routes (`/auth/login`, `/auth/logout`, `/v1/me`).
//!
//! Never logs or returns a password, a key or a session id.

pub mod known;
pub mod password;
mod policy;
mod principal;
mod routes;
pub mod throttle;

pub use policy::{allowed, authorize, Action, Resource};
pub use principal::{carries_key, check_origin, Channel, MaybePrincipal, Owner, Principal};
pub use routes::{landing, next_page, router};
