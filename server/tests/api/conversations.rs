//! Conversations: kept per owner, saved one message at a time, exported whole.

use serde_json::{json, Value};

use app::api::{Conversation, ConversationList, Role};

use crate::harness::{error_body, TestApp};

#[tokio::test]
async fn a_conversation_is_its_owners_alone_and_every_message_is_kept_as_it_is_saved() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("bob", Role::Admin, "password bob").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let bob = app.browser();
    app.sign_in(&bob, "bob", "password bob").await;

    let created = ana
        .post(app.url("/v1/conversations"))
        .json(&json!({"model": "house-chat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let conversation: Conversation = created.json().await.unwrap();
    assert_eq!(conversation.title, "New conversation");
    let base = app.url(&format!("/v1/conversations/{}", conversation.id));

    // Each complete message is saved as it comes: user, assistant with a tool call, the tool's
    // result, and an answer the user stopped.
    let messages = [
        json!({"role": "user", "content": "Echo hello, please"}),
        json!({"role": "assistant", "content": "", "model": "house-chat", "tool_calls": [{"id": "call_1", "name": "everything__echo", "arguments": "{\"message\":\"hello\"}"}]}),
        json!({"role": "tool", "content": "Echo: hello", "tool_call_id": "call_1", "tool_run": {"server": "everything", "tool": "echo"}, "duration_ms": 12}),
        json!({"role": "assistant", "content": "It said: hel", "model": "house-chat", "stopped": true, "reasoning": "The tool echoed.", "completion_tokens": 4}),
    ];
    for (i, message) in messages.iter().enumerate() {
        let saved = ana
            .post(format!("{base}/messages"))
            .json(message)
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), 201, "{}", saved.text().await.unwrap());
        let so_far: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
        assert_eq!(so_far.messages.len(), i + 1, "saved at once");
    }

    // Nobody else reaches it, not even an admin: 404 on every route.
    for response in [
        bob.get(&base).send().await.unwrap(),
        bob.get(format!("{base}/export")).send().await.unwrap(),
        bob.patch(&base)
            .json(&json!({"title": "mine"}))
            .send()
            .await
            .unwrap(),
        bob.post(format!("{base}/messages"))
            .json(&json!({"role": "user", "content": "x"}))
            .send()
            .await
            .unwrap(),
        bob.delete(&base).send().await.unwrap(),
    ] {
        error_body(response, 404).await;
    }
    let bobs: ConversationList = bob
        .get(app.url("/v1/conversations"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(bobs.data.is_empty());

    // Bad input is refused clearly and writes nothing.
    for (body, says) in [
        (json!({"role": "tool", "content": "x"}), "tool_call_id"),
        (
            json!({"role": "user", "content": "x", "tool_calls": [{"id": "c", "name": "n", "arguments": "{}"}]}),
            "only assistant",
        ),
        (json!({"role": "robot", "content": "x"}), "role"),
        (
            json!({"role": "user", "content": "x", "colour": "red"}),
            "colour",
        ),
        (
            json!({"role": "assistant", "content": "x", "duration_ms": -1}),
            "negative",
        ),
    ] {
        let error = error_body(
            ana.post(format!("{base}/messages"))
                .json(&body)
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{body}: {error}"
        );
    }
    for body in [
        json!({"title": "  "}),
        json!({"title": "a\u{7}b"}),
        json!({"title": "x".repeat(201)}),
    ] {
        error_body(ana.patch(&base).json(&body).send().await.unwrap(), 400).await;
    }

    // It survives a restart, in order, with everything that was saved.
    let dir = app.stop().await;
    let app = TestApp::spawn_in(dir, &["--api-key", "master-secret-0123456789"]).await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let base = app.url(&format!("/v1/conversations/{}", conversation.id));
    let kept: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    let roles: Vec<&str> = kept.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant"]);
    assert_eq!(kept.messages[1].tool_calls[0].name, "everything__echo");
    assert_eq!(kept.messages[2].tool_run.as_ref().unwrap().tool, "echo");
    assert!(kept.messages[3].stopped);
    assert_eq!(kept.messages[3].content, "It said: hel");

    // The export is the same conversation, as a file to download.
    let export = ana.get(format!("{base}/export")).send().await.unwrap();
    assert_eq!(export.status(), 200);
    assert!(export.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let exported: Conversation = export.json().await.unwrap();
    assert_eq!(exported, kept);

    // Regenerate: the last answer and everything after it go.
    let last = kept.messages[3].id;
    assert_eq!(
        ana.delete(format!("{base}/messages/{last}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let shorter: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(shorter.messages.len(), 3);
    error_body(
        ana.delete(format!("{base}/messages/{last}"))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn an_answer_saved_as_it_grows_is_replaced_until_it_is_complete_and_never_after() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    app.add_user("ana", Role::Member, "password ana").await;
    app.add_user("bob", Role::Member, "password bob").await;
    let ana = app.browser();
    app.sign_in(&ana, "ana", "password ana").await;
    let bob = app.browser();
    app.sign_in(&bob, "bob", "password bob").await;
    let conversation: Conversation = ana
        .post(app.url("/v1/conversations"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let base = app.url(&format!("/v1/conversations/{}", conversation.id));
    ana.post(format!("{base}/messages"))
        .json(&json!({"role": "user", "content": "Count to three"}))
        .send()
        .await
        .unwrap();

    // The first words arrive: saved as partial, so a reload shows them.
    let first = ana
        .post(format!("{base}/messages"))
        .json(&json!({"role": "assistant", "content": "One", "partial": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let answer = format!("{base}/messages/{}", first["id"]);
    let shown: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    assert!(shown.messages[1].partial);
    assert_eq!(shown.messages[1].content, "One");

    // It grows, then is complete.
    let grown = ana
        .patch(&answer)
        .json(&json!({"role": "assistant", "content": "One, two", "partial": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(grown.status(), 200, "{}", grown.text().await.unwrap());
    let done = ana
        .patch(&answer)
        .json(&json!({"role": "assistant", "content": "One, two, three.", "model": "house-chat", "completion_tokens": 6, "duration_ms": 900}))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    let shown: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown.messages.len(), 2, "replaced, not added");
    let kept = &shown.messages[1];
    assert!(!kept.partial);
    assert_eq!(
        (
            kept.content.as_str(),
            kept.completion_tokens,
            kept.model.as_deref()
        ),
        ("One, two, three.", Some(6), Some("house-chat"))
    );

    // A complete message is never changed again, a late save included.
    let late = ana
        .patch(&answer)
        .json(&json!({"role": "assistant", "content": "One", "partial": true}))
        .send()
        .await
        .unwrap();
    let error = error_body(late, 409).await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("complete"),
        "{error}"
    );
    let user_message = format!("{base}/messages/{}", shown.messages[0].id);
    error_body(
        ana.patch(&user_message)
            .json(&json!({"role": "user", "content": "Count to ten"}))
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;

    // Only an answer can be partial; its role cannot change; bad input changes nothing.
    let error = error_body(
        ana.post(format!("{base}/messages"))
            .json(&json!({"role": "user", "content": "x", "partial": true}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("assistant"),
        "{error}"
    );
    let second: Value = ana
        .post(format!("{base}/messages"))
        .json(&json!({"role": "assistant", "content": "Again", "partial": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = format!("{base}/messages/{}", second["id"]);
    error_body(
        ana.patch(&second)
            .json(&json!({"role": "user", "content": "x", "partial": true}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        ana.patch(&second)
            .json(&json!({"role": "assistant", "content": "x", "duration_ms": -5}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        ana.patch(&second)
            .json(&json!({"role": "assistant", "contents": "x"}))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    let shown: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            shown.messages[2].content.as_str(),
            shown.messages[2].partial
        ),
        ("Again", true)
    );

    // Someone else's answer, or one that does not exist, is a 404.
    error_body(
        bob.patch(&second)
            .json(&json!({"role": "assistant", "content": "mine"}))
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    for missing in ["999999", "abc"] {
        error_body(
            ana.patch(format!("{base}/messages/{missing}"))
                .json(&json!({"role": "assistant", "content": "x"}))
                .send()
                .await
                .unwrap(),
            404,
        )
        .await;
    }
    let shown: Conversation = ana.get(&base).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown.messages[2].content, "Again");
}

#[tokio::test]
async fn conversations_are_listed_newest_first_renamed_searched_and_deleted() {
    let app = TestApp::spawn(&["--api-key", "master-secret-0123456789"]).await;
    let client = app.client();
    let post = |title: &str| {
        client
            .post(app.url("/v1/conversations"))
            .bearer_auth("master-secret-0123456789")
            .json(&json!({"title": title}))
            .send()
    };
    let first: Value = post("Rust lifetimes").await.unwrap().json().await.unwrap();
    post("100% coverage").await.unwrap();
    post("Soup recipes").await.unwrap();

    let list = |query: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let list: ConversationList = client
                .get(app.url(&format!("/v1/conversations{query}")))
                .bearer_auth("master-secret-0123456789")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            list.data.into_iter().map(|c| c.title).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await,
        ["Soup recipes", "100% coverage", "Rust lifetimes"]
    );
    assert_eq!(list("?q=rust").await, ["Rust lifetimes"]);
    assert_eq!(
        list("?q=%25").await,
        ["100% coverage"],
        "wildcards are matched literally"
    );

    let renamed = client
        .patch(app.url(&format!("/v1/conversations/{}", first["id"])))
        .bearer_auth("master-secret-0123456789")
        .json(&json!({"title": "Borrow checker"}))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert_eq!(
        list("").await,
        ["Soup recipes", "100% coverage", "Borrow checker"],
        "a rename keeps the conversation's place"
    );

    let deleted = client
        .delete(app.url(&format!("/v1/conversations/{}", first["id"])))
        .bearer_auth("master-secret-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(list("").await.len(), 2);
    error_body(
        client
            .get(app.url("/v1/conversations/abc"))
            .bearer_auth("master-secret-0123456789")
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test]
async fn a_tool_result_keeps_only_inline_images() {
    let app = TestApp::spawn(&[]).await;
    let client = app.client();
    let created: serde_json::Value = client
        .post(app.url("/v1/conversations"))
        .json(&serde_json::json!({"title": "t"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let messages = app.url(&format!("/v1/conversations/{}/messages", created["id"]));
    let tool = |image: &str| {
        serde_json::json!({"role": "tool", "content": "ok", "tool_call_id": "c1",
            "tool_run": {"server": "s", "tool": "t", "images": [image]}})
    };
    for image in [
        "https://evil.example/x.png?q=secret",
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "data:image/png,raw",
        "data:image/png;base64,@@",
    ] {
        error_body(
            client
                .post(&messages)
                .json(&tool(image))
                .send()
                .await
                .unwrap(),
            400,
        )
        .await;
    }
    let kept = client
        .post(&messages)
        .json(&tool("data:image/png;base64,iVBORw0KGgo="))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status(), 201);
    let conversation: serde_json::Value = client
        .get(app.url(&format!("/v1/conversations/{}", created["id"])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        conversation["messages"].as_array().unwrap().len(),
        1,
        "only the good message was saved"
    );
    app.stop().await;
}
