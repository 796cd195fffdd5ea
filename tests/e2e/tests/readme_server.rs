//! What a newcomer does: copy the README's `[dependencies]` block and its
//! own-tools server into a new crate. It must build with exactly those
//! dependencies, and serve under its own name with its own tool and the
//! generated ones.

mod mcp;

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

/// The first fenced block of `lang` in `readme` that contains `needle`.
fn block<'a>(readme: &'a str, lang: &str, needle: &str) -> &'a str {
    readme
        .split("\n```")
        .filter_map(|chunk| chunk.strip_prefix(lang))
        .filter_map(|chunk| chunk.split_once('\n').map(|(_, body)| body))
        .find(|body| body.contains(needle))
        .unwrap_or_else(|| panic!("README.md has no ```{lang} block with {needle:?}"))
}

#[test]
fn the_readme_server_builds_from_its_dependency_block_and_serves() {
    let root = mcp::root().canonicalize().expect("the workspace root");
    let root = root.as_path();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let deps = block(&readme, "toml", "[dependencies]");
    let server = block(&readme, "rust", "#[tool_handler(router = self.tool_router");

    // The block names the published crate; the test builds this checkout.
    let ours = format!(
        "mcp-persist = {{ path = {:?} }}",
        root.display().to_string()
    );
    let deps: Vec<String> = deps
        .lines()
        .map(|line| {
            if line.starts_with("mcp-persist") {
                ours.clone()
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(deps.contains(&ours), "the block must depend on mcp-persist");

    let krate = tempfile::tempdir().expect("temp dir");
    let manifest = format!(
        "[package]\nname = \"readme-server\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n{}\n",
        deps.join("\n")
    );
    std::fs::write(krate.path().join("Cargo.toml"), manifest).expect("write Cargo.toml");
    std::fs::create_dir(krate.path().join("src")).expect("mkdir src");
    std::fs::write(krate.path().join("src/main.rs"), server).expect("write main.rs");
    // The workspace's versions, so the build needs no network and reuses what is built.
    std::fs::copy(root.join("Cargo.lock"), krate.path().join("Cargo.lock"))
        .expect("copy Cargo.lock");

    let target = root.join("target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(krate.path())
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::null())
        .status()
        .expect("run cargo build");
    assert!(
        built.success(),
        "the README's server does not build from the README's [dependencies] block"
    );

    let data = tempfile::tempdir().expect("temp dir");
    let child = Command::new(target.join("debug/readme-server"))
        .env("MCP_PERSIST_DIR", data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the README's server");
    let mut raw = mcp::Raw::connect(child);
    assert_eq!(
        raw.server_info["name"], "bookmarks",
        "its own name, not rmcp's"
    );

    let saved = raw.call(
        1,
        "set_bookmark",
        r#"{"url":"https://example.org/dune","title":"Dune, a review"}"#,
    );
    assert_eq!(saved["result"]["isError"], false, "{saved}");
    let found = raw.call(2, "find_bookmarks", r#"{"word":"dune"}"#);
    assert_eq!(
        found["result"]["content"][0]["text"],
        json!("Dune, a review"),
        "{found}"
    );

    drop(raw.stdin);
    let status = mcp::exits_within(&mut raw.child, Duration::from_secs(2), "stdin EOF");
    assert!(status.success(), "{status}");
}
