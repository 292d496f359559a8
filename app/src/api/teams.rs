//! Wire types of teams (`/v1/teams`): named groups of users that grants can name.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    /// Member user names, sorted.
    pub members: Vec<String>,
    pub created_at: i64,
}

/// `GET /v1/teams`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TeamList {
    pub data: Vec<Team>,
}

/// The body of `POST /v1/teams` and `PUT /v1/teams/{name}` (which replaces the members).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
}
