//! What `weir extract` needs before it fetches: credentials (`all` runs every configured vendor
//! and names the others), the variables `--help` lists, and a state file it can read.

use serde_json::json;

use crate::extract::{INCIDENTS, page_files, pagerduty, run};
use crate::fake_server::{FakeServer, Route};
use crate::harness::Project;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_weir_cannot_read_is_an_error() {
    let server = FakeServer::start().await;
    pagerduty(&server);
    let cases = [
        ("{not json", "is not a state file: not JSON"),
        (
            r#"{"high_water": {"incidents": 17}}"#,
            "is not a state file: the mark of `incidents` is not an RFC 3339 time: 17",
        ),
    ];
    for (text, said) in cases {
        let p = Project::fixture("empty");
        p.write("raw_data/pagerduty.state.json", text);
        let out = run(&p, &server, &INCIDENTS).await;
        assert_eq!(out.code, 1, "{}", out.transcript());
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: pagerduty: `raw_data/pagerduty.state.json` ")
                && first.contains(said),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("hint: weir writes `{\"high_water\"")
                && out.stderr.contains("or move it away"),
            "{}",
            out.stderr
        );
        // Nothing was fetched on the strength of a state nobody could read.
        assert_eq!(page_files(&p), Vec::<String>::new());
        assert_eq!(p.read("raw_data/pagerduty.state.json"), text);
    }
    // A state path that is a folder (tests run as root, so a mode does not make a file
    // unreadable; a folder is unreadable as a file for everyone).
    let p = Project::fixture("empty");
    std::fs::create_dir_all(p.path("raw_data/pagerduty.state.json")).unwrap();
    let out = run(&p, &server, &INCIDENTS).await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.starts_with(
            "error: pagerduty: `raw_data/pagerduty.state.json` cannot be read: Is a directory"
        ) && out.stderr.contains("hint: make it a file weir may read"),
        "{}",
        out.stderr
    );
    assert_eq!(page_files(&p), Vec::<String>::new());
}

fn datadog(server: &FakeServer) {
    server.add(
        Route::get("/api/v1/monitor")
            .header("dd-api-key", "dd-key")
            .json(200, json!([{"id": 1, "name": "m1", "type": "query alert"}])),
    );
    server.add(
        Route::get("/api/v1/synthetics/tests")
            .header("dd-api-key", "dd-key")
            .json(
                200,
                json!({"tests": [{"public_id": "abc-def-123", "name": "login"}]}),
            ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_all_runs_every_configured_vendor_and_names_the_others() {
    let server = FakeServer::start().await;
    pagerduty(&server);
    datadog(&server);
    let p = Project::fixture("empty");
    // PagerDuty and Datadog are configured; Sentry has only its key, GitHub nothing.
    let env = [
        ("PAGERDUTY_SECRET", crate::extract::SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
        ("DATADOG_API_KEY", "dd-key"),
        ("DATADOG_APPLICATION_KEY", "dd-app"),
        ("DATADOG_BASE_URL", server.uri.as_str()),
        ("SENTRY_API_KEY", "sn-key"),
    ];
    let args = [
        "extract",
        "all",
        "--since",
        "2026-10-20",
        "--until",
        "2026-11-10",
    ];
    let out = p.weir_async(&args, &env).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    let notes: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("note: skipped"))
        .collect();
    assert_eq!(
        notes,
        [
            "note: skipped sentry: SENTRY_ORG is not set",
            "note: skipped github: GITHUB_API_KEY (or GITHUB_TOKEN) and GITHUB_ORG are not set",
        ],
        "{}",
        out.stderr
    );
    let folders: std::collections::BTreeSet<String> = page_files(&p)
        .into_iter()
        .map(|f| f.split('/').next().unwrap().to_string())
        .collect();
    assert_eq!(
        folders.into_iter().collect::<Vec<_>>(),
        [
            "datadog_monitors",
            "datadog_synthetics",
            "pagerduty_incidents",
            "pagerduty_log_entries",
            "pagerduty_services",
            "pagerduty_teams",
            "pagerduty_users",
        ],
        "{}",
        out.stderr
    );
    // None configured: one error naming what each vendor needs, exit 1, nothing fetched.
    let p = Project::fixture("empty");
    let out = p.weir_async(&["extract", "all"], &[]).await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains(
            "error: no vendor has its credentials set\n  hint: set them in the environment"
        ) && out
            .stderr
            .contains("github: GITHUB_API_KEY (or GITHUB_TOKEN) and GITHUB_ORG"),
        "{}",
        out.stderr
    );
    assert_eq!(page_files(&p), Vec::<String>::new());
}

/// Every variable any vendor reads (the registry's list, which a unit test holds to the vendor
/// files) is in `weir extract --help`, aliases included, and nothing else that looks like one.
#[test]
fn extract_help_lists_every_variable() {
    let p = Project::empty();
    let out = p.weir(&["extract", "--help"]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    let mut registered: Vec<&str> = weir::extract::VENDORS
        .iter()
        .flat_map(|v| v.variables)
        .flat_map(|v| std::iter::once(v.name).chain(v.aliases.iter().copied()))
        .collect();
    for expected in [
        "PAGERDUTY_TOKEN",
        "GITHUB_TOKEN",
        "DATADOG_SITE",
        "SENTRY_BASE_URL",
    ] {
        assert!(registered.contains(&expected), "{expected}");
    }
    let prefixes: Vec<String> = weir::extract::VENDORS
        .iter()
        .map(|v| format!("{}_", v.name.to_ascii_uppercase()))
        .collect();
    let mut listed: Vec<&str> = out
        .stdout
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|w| prefixes.iter().any(|p| w.starts_with(p.as_str())))
        .collect();
    registered.sort();
    listed.sort();
    listed.dedup();
    assert_eq!(listed, registered, "{}", out.stdout);
}
