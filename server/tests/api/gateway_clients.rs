//! Real MCP clients through `/mcp` and `/mcp/{server}` with a Hearth key: the MCP Inspector's
//! CLI and the official Python SDK, against the conformance fixture as the shared server.

use serde_json::{json, Value};

use crate::mcp_peers;

/// Runs the Inspector's CLI (on Node 22) against `url` with `args`; the result it got.
async fn inspector(url: &str, key: &str, args: &[&str]) -> Value {
    let launcher = crate::conformance::mcp_clients()
        .join("@modelcontextprotocol/inspector/clients/launcher/build/index.js");
    let run = tokio::process::Command::new(crate::conformance::node22())
        .arg(launcher)
        .args(["--cli", url, "--transport", "http"])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(args)
        .args(["--format", "json"])
        .kill_on_drop(true)
        .output()
        .await
        .expect("the Inspector starts");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the Inspector failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let answer: Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    answer["result"].clone()
}

#[tokio::test]
async fn the_mcp_inspector_lists_and_calls_tools_with_a_hearth_key() {
    let (app, key) = crate::conformance_fixture::shared_by_hearth().await;
    let one = app.url("/mcp/fixture");
    let listed = inspector(&one, &key, &["--method", "tools/list"]).await;
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"test_simple_text"), "{names:?}");
    let called = inspector(
        &one,
        &key,
        &["--method", "tools/call", "--tool-name", "test_simple_text"],
    )
    .await;
    assert_eq!(
        called["content"][0]["text"], "This is a simple text response for testing.",
        "{called}"
    );

    let all = app.url("/mcp");
    let listed = inspector(&all, &key, &["--method", "tools/list"]).await;
    assert!(
        listed["tools"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "fixture__test_simple_text"),
        "{listed}"
    );
    let called = inspector(
        &all,
        &key,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "fixture__test_simple_text",
        ],
    )
    .await;
    assert_eq!(
        called["content"][0]["text"], "This is a simple text response for testing.",
        "{called}"
    );
    app.stop().await;
}

/// The Python SDK's client through `url` (`/mcp/fixture`, or `/mcp` with `server`): what it
/// got, as `gateway_client.py` prints it.
async fn python_client(url: String, key: &str, server: Option<&str>) -> Value {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/gateway_client.py");
    let run = tokio::process::Command::new(mcp_peers::python())
        .arg(script)
        .arg(url)
        .arg(key)
        .args(server)
        .kill_on_drop(true)
        .output()
        .await
        .expect("python starts");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "the Python client failed: {stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test]
async fn the_python_sdk_lists_calls_prompts_and_reads_through_hearth() {
    let (app, key) = crate::conformance_fixture::shared_by_hearth().await;
    for (url, server, named) in [
        (app.url("/mcp/fixture"), None, ""),
        (app.url("/mcp"), Some("fixture"), "fixture__"),
    ] {
        let got = python_client(url, &key, server).await;
        let has = |list: &str, name: &str| {
            got[list]
                .as_array()
                .unwrap()
                .contains(&json!(format!("{named}{name}")))
        };
        assert!(has("tools", "test_simple_text"), "{got}");
        assert!(has("prompts", "test_prompt_with_arguments"), "{got}");
        assert_eq!(got["called"], "This is a simple text response for testing.");
        assert_eq!(
            got["progress"],
            json!([0.0, 50.0, 100.0]),
            "progress relayed"
        );
        assert_eq!(got["prompt"], "Prompt with arguments: arg1='a', arg2='b'");
        let uri = match server {
            None => "test://static-text".to_owned(),
            Some(server) => format!("hearth://{server}/test://static-text"),
        };
        assert_eq!(got["resource_uri"], uri);
        assert_eq!(
            got["resource"],
            "This is the content of the static text resource."
        );
    }
    app.stop().await;
}
