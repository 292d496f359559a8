//! Teams, and LLM grants that name them.

use serde_json::{json, Value};

use app::api::{Role, Team, TeamList};

use crate::harness::{error_body, TestApp};

const MASTER: &str = "master-secret-0123456789";

#[tokio::test]
async fn admins_manage_teams_members_see_their_own_and_a_team_grant_lets_its_members_run_an_llm() {
    let app = TestApp::spawn(&["--api-key", MASTER]).await;
    for (name, role) in [
        ("ana", Role::Member),
        ("bob", Role::Member),
        ("vic", Role::Viewer),
    ] {
        app.add_user(name, role, &format!("password {name}")).await;
    }
    let admin = app.client();
    let post = |body: Value| {
        admin
            .post(app.url("/v1/teams"))
            .bearer_auth(MASTER)
            .json(&body)
            .send()
    };

    let created = post(json!({"name": "ops", "members": ["ana", "ana"]}))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let ops: Team = created.json().await.unwrap();
    assert_eq!(ops.members, ["ana"]);
    assert_eq!(post(json!({"name": "dev"})).await.unwrap().status(), 201);

    // Bad input: a clear 400 or 409, and nothing changes.
    for (body, status, says) in [
        (json!({"name": "ops"}), 409, "already exists"),
        (json!({"name": "bad name"}), 400, "invalid team name"),
        (
            json!({"name": "x", "members": ["nobody"]}),
            400,
            "no user named",
        ),
        (json!({"name": "x", "colour": "red"}), 400, "colour"),
    ] {
        let error = error_body(post(body.clone()).await.unwrap(), status).await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    let all: TeamList = admin
        .get(app.url("/v1/teams"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        all.data.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["dev", "ops"]
    );

    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let bob = app.browser();
    app.sign_in(&bob, "bob", "password bob").await;
    let vic = app.browser();
    app.sign_in(&vic, "vic", "password vic").await;
    let seen: TeamList = ana
        .get(app.url("/v1/teams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen.data
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["ops"],
        "members see their own teams"
    );
    error_body(bob.get(app.url("/v1/teams/ops")).send().await.unwrap(), 404).await;
    let seen: TeamList = vic
        .get(app.url("/v1/teams"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen.data.len(), 2, "viewers read every team");
    // Refused in words the person refused understands.
    let refused = error_body(
        vic.post(app.url("/v1/teams"))
            .json(&json!({"name": "mine"}))
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(
        refused["error"]["message"],
        "Viewers can read Hearth's settings but not change them: ask an admin."
    );
    let refused = error_body(
        ana.delete(app.url("/v1/teams/ops")).send().await.unwrap(),
        403,
    )
    .await;
    assert_eq!(
        refused["error"]["message"],
        "This is for admins of this Hearth: ask one of them."
    );

    // An LLM granted to `ops`: listed for ana, not for bob, until bob joins.
    let llm = json!({"name": "for-ops", "provider": "openai-compatible", "base_url": "http://127.0.0.1:9", "model": "m", "grants": {"teams": ["ops"]}});
    let response = admin
        .post(app.url("/v1/llms"))
        .bearer_auth(MASTER)
        .json(&llm)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let mut unknown = llm.clone();
    unknown["name"] = json!("for-ghosts");
    unknown["grants"] = json!({"teams": ["ghosts"]});
    let error = error_body(
        admin
            .post(app.url("/v1/llms"))
            .bearer_auth(MASTER)
            .json(&unknown)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("ghosts"));
    let models = |client: reqwest::Client| {
        let app = &app;
        async move {
            let list: Value = client
                .get(app.url("/v1/models"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(models(ana.clone()).await, ["for-ops"]);
    assert!(models(bob.clone()).await.is_empty());
    let ask = json!({"model": "for-ops", "messages": [{"role": "user", "content": "hi"}]});
    error_body(
        bob.post(app.url("/v1/chat/completions"))
            .json(&ask)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    // ana may run it: the (unreachable) provider is the only obstacle left.
    error_body(
        ana.post(app.url("/v1/chat/completions"))
            .json(&ask)
            .send()
            .await
            .unwrap(),
        502,
    )
    .await;

    let put = admin
        .put(app.url("/v1/teams/ops"))
        .bearer_auth(MASTER)
        .json(&json!({"name": "ops", "members": ["ana", "bob"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    assert_eq!(models(bob.clone()).await, ["for-ops"]);
    error_body(
        bob.post(app.url("/v1/chat/completions"))
            .json(&ask)
            .send()
            .await
            .unwrap(),
        502,
    )
    .await;

    assert_eq!(
        admin
            .delete(app.url("/v1/teams/ops"))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(
        models(ana.clone()).await.is_empty(),
        "a deleted team grants nothing"
    );
    error_body(
        admin
            .delete(app.url("/v1/teams/ops"))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}
