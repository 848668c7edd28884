//! `weir extract` of Sentry, GitHub and Datadog against the fake vendor, and the failures every
//! vendor must survive: rate limits in each vendor's words, 5xx, refused tokens, broken bodies,
//! timeouts and settings that cannot be used.

use std::time::Duration;

use serde_json::{Value, json};

use crate::extract::{json_file, page_files, pd_page, service};
use crate::fake_server::{FakeServer, Route};
use crate::harness::Project;

/// Sentry's `Link` header: both links always present, `results` says whether there is more.
fn sentry_link(base: &str, next: Option<&str>) -> String {
    let (results, cursor) = match next {
        Some(c) => ("true", c),
        None => ("false", "0:200:0"),
    };
    format!(
        "<{base}?&cursor=0:0:1>; rel=\"previous\"; results=\"false\"; cursor=\"0:0:1\", <{base}?&cursor={cursor}>; rel=\"next\"; results=\"{results}\"; cursor=\"{cursor}\""
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentry_follows_cursors_not_short_pages() {
    let server = FakeServer::start().await;
    let issues = format!("{}/api/0/organizations/acme/issues/", server.uri);
    let issue = |id: &str, seen: &str| {
        json!({"id": id, "shortId": format!("CHK-{id}"), "title": "boom", "status": "unresolved", "count": "3",
               "userCount": 1, "firstSeen": seen, "lastSeen": seen, "project": {"id": "2", "slug": "checkout"}})
    };
    // A short page (the endpoint drops rows after paging) that still says results="true".
    server.add(
        Route::get("/api/0/organizations/acme/issues/")
            .query("cursor", "0:100:0")
            .json(200, json!([issue("12", "2026-11-03T08:00:00Z")]))
            .with_header("link", &sentry_link(&issues, None)),
    );
    server.add(
        Route::get("/api/0/organizations/acme/issues/")
            .header("authorization", "Bearer sn-key")
            .json(200, json!([issue("11", "2026-11-02T08:00:00Z")]))
            .with_header("link", &sentry_link(&issues, Some("0:100:0"))),
    );
    for id in ["11", "12"] {
        server.add(
            Route::get(format!("/api/0/organizations/acme/issues/{id}/events/"))
                .json(200, json!([{"id": "e1", "eventID": format!("ev{id}"), "event.type": "error", "groupID": id,
                                   "dateCreated": "2026-11-02T08:00:00Z", "tags": []}]))
                .with_header("link", &sentry_link(&format!("{}/x", server.uri), None)),
        );
    }
    let p = Project::fixture("empty");
    let env = [
        ("SENTRY_API_KEY", "sn-key"),
        ("SENTRY_ORG", "acme"),
        ("SENTRY_BASE_URL", server.uri.as_str()),
    ];
    let out = p
        .weir_async(
            &[
                "extract",
                "sentry",
                "--entity",
                "issue_events",
                "--since",
                "2026-11-01",
            ],
            &env,
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(
        p.files("raw_data/sentry_issues").len(),
        2,
        "a short page is not the last one"
    );
    let events = p.files("raw_data/sentry_issue_events");
    assert_eq!(events.len(), 2, "{events:?}");
    let page = json_file(&p, &format!("raw_data/sentry_issue_events/{}", events[0]));
    assert_eq!(page["context"]["issue_id"], "11");
    let state = json_file(&p, "raw_data/sentry.state.json");
    assert_eq!(state["high_water"]["issues"], "2026-11-03T08:00:00Z");
    let out = p
        .weir_async(&["run-etl", "sentry_issues", "sentry_issue_events"], &[])
        .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_walks_repos_then_each_repo() {
    let server = FakeServer::start().await;
    let repo = |name: &str| {
        json!({"id": 1, "name": name, "full_name": format!("acme/{name}"), "private": true, "archived": false,
               "default_branch": "main", "created_at": "2024-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"})
    };
    let second = format!(
        "{}/orgs/acme/repos?per_page=100&sort=full_name&page=2",
        server.uri
    );
    server.add(
        Route::get("/orgs/acme/repos")
            .query("page", "2")
            .json(200, json!([repo("web")])),
    );
    server.add(
        Route::get("/orgs/acme/repos")
            .header("x-github-api-version", "2022-11-28")
            .json(200, json!([repo("api")]))
            .with_header(
                "link",
                &format!("<{second}>; rel=\"next\", <{second}>; rel=\"last\""),
            ),
    );
    server.add(Route::get("/repos/acme/api/hooks").json(
        200,
        json!([{"id": 7, "name": "web", "active": true, "events": ["push"],
                "config": {"url": "https://ci.example/hook", "insecure_ssl": "0"},
                "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z", "last_response": null}]),
    ));
    server.add(Route::get("/repos/acme/web/hooks").json(404, json!({"message": "Not Found"})));
    let p = Project::fixture("empty");
    let env = [
        ("GITHUB_TOKEN", "gh-token"),
        ("GITHUB_ORG", "acme"),
        ("GITHUB_BASE_URL", server.uri.as_str()),
    ];
    let out = p
        .weir_async(&["extract", "github", "--entity", "repo_hooks"], &env)
        .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("note: no access to hooks of acme/web (HTTP 404)"),
        "{}",
        out.stderr
    );
    assert_eq!(p.files("raw_data/github_repos").len(), 2);
    let hooks = p.files("raw_data/github_repo_hooks");
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let page = json_file(&p, &format!("raw_data/github_repo_hooks/{}", hooks[0]));
    assert_eq!(page["context"]["repo"], "acme/api");
    let out = p
        .weir_async(&["run-etl", "github_repos", "github_repo_hooks"], &[])
        .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datadog_pages_until_a_short_page() {
    let server = FakeServer::start().await;
    let monitor = |id: u64| {
        json!({"id": id, "name": format!("m{id}"), "type": "query alert", "query": "avg:x{*} > 1",
               "tags": ["service:checkout"], "overall_state": "OK",
               "created": "2026-01-01T00:00:00.000000+00:00", "modified": "2026-01-01T00:00:00.000000+00:00"})
    };
    let full: Vec<Value> = (0..100).map(monitor).collect();
    server.add(
        Route::get("/api/v1/monitor")
            .query("page", "0")
            .header("dd-api-key", "dd-key")
            .json(200, Value::Array(full)),
    );
    server.add(
        Route::get("/api/v1/monitor")
            .query("page", "1")
            .json(200, json!([monitor(100)])),
    );
    let p = Project::fixture("empty");
    let env = [
        ("DATADOG_API_KEY", "dd-key"),
        ("DATADOG_APPLICATION_KEY", "dd-app"),
        ("DATADOG_BASE_URL", server.uri.as_str()),
    ];
    let out = p
        .weir_async(&["extract", "datadog", "--entity", "monitors"], &env)
        .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(p.files("raw_data/datadog_monitors").len(), 2);
    let out = p.weir_async(&["run-etl", "datadog_monitors"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(out.stderr.contains("101 records"), "{}", out.stderr);
}

/// One vendor's first request, for the failure scenarios every vendor must survive.
struct Vendor {
    args: [&'static str; 4],
    /// The folder of the entity in `args`.
    folder: &'static str,
    env: Vec<(&'static str, String)>,
    token: &'static str,
    path: &'static str,
    ok: Value,
    /// A rate limit in the vendor's own words: status and headers.
    limited: (u16, Vec<(&'static str, String)>),
}

fn vendors(server: &FakeServer) -> Vec<Vendor> {
    let soon = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1)
    .to_string();
    let uri = server.uri.clone();
    vec![
        Vendor {
            args: ["extract", "pagerduty", "--entity", "services"],
            folder: "pagerduty_services",
            env: vec![
                ("PAGERDUTY_TOKEN", "pd-tok-1".into()),
                ("PAGERDUTY_BASE_URL", uri.clone()),
            ],
            token: "pd-tok-1",
            path: "/services",
            ok: pd_page("services", vec![service("PS1", "Checkout")], 0, false),
            limited: (429, vec![("ratelimit-reset", "1".into())]),
        },
        Vendor {
            args: ["extract", "sentry", "--entity", "projects"],
            folder: "sentry_projects",
            env: vec![
                ("SENTRY_API_KEY", "sn-tok-2".into()),
                ("SENTRY_ORG", "acme".into()),
                ("SENTRY_BASE_URL", uri.clone()),
            ],
            token: "sn-tok-2",
            path: "/api/0/organizations/acme/projects/",
            ok: json!([{"id": "2", "slug": "checkout", "name": "Checkout"}]),
            limited: (429, vec![("x-sentry-rate-limit-reset", soon.clone())]),
        },
        Vendor {
            args: ["extract", "github", "--entity", "teams"],
            folder: "github_teams",
            env: vec![
                ("GITHUB_API_KEY", "gh-tok-3".into()),
                ("GITHUB_ORG", "acme".into()),
                ("GITHUB_BASE_URL", uri.clone()),
            ],
            token: "gh-tok-3",
            path: "/orgs/acme/teams",
            ok: json!([{"id": 1, "slug": "payments", "name": "Payments"}]),
            // GitHub's exhausted primary limit is a 403 with nothing remaining.
            limited: (
                403,
                vec![
                    ("x-ratelimit-remaining", "0".into()),
                    ("x-ratelimit-reset", soon),
                ],
            ),
        },
        Vendor {
            args: ["extract", "datadog", "--entity", "synthetics"],
            folder: "datadog_synthetics",
            env: vec![
                ("DATADOG_API_KEY", "dd-tok-4".into()),
                ("DATADOG_APPLICATION_KEY", "dd-app-4".into()),
                ("DATADOG_BASE_URL", uri),
            ],
            token: "dd-tok-4",
            path: "/api/v1/synthetics/tests",
            ok: json!({"tests": [{"public_id": "abc-def-123", "name": "login", "status": "live"}]}),
            limited: (429, vec![("x-ratelimit-reset", "1".into())]),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vendor_survives_limits_errors_and_bad_answers() {
    let scenarios = ["rate limited", "500 twice", "401", "not JSON", "too slow"];
    for scenario in scenarios {
        let server = FakeServer::start().await;
        for v in vendors(&server) {
            let first = Route::get(v.path).priority(1);
            match scenario {
                "rate limited" => {
                    let mut r = first.text(v.limited.0, "slow down").times(1);
                    for (k, val) in &v.limited.1 {
                        r = r.with_header(k, val);
                    }
                    server.add(r);
                }
                "500 twice" => server.add(first.text(500, "oops").times(2)),
                "401" => server.add(first.json(401, json!({"message": "Bad credentials"}))),
                "not JSON" => server.add(first.text(200, "<html>")),
                _ => server.add(first.json(200, v.ok.clone()).delay(Duration::from_secs(3))),
            }
            server.add(Route::get(v.path).json(200, v.ok.clone()));
            let p = Project::fixture("empty");
            let env: Vec<(&str, &str)> = v.env.iter().map(|(k, val)| (*k, val.as_str())).collect();
            let mut args = v.args.to_vec();
            args.extend(["--timeout", "0.5", "--retries", "2"]);
            let out = p.weir_async(&args, &env).await;
            let what = format!("{} / {scenario}:\n{}", v.args[1], out.transcript());
            let one_page = vec![format!("{}/[STAMP]-p00001.json", v.folder)];
            let pages = page_files(&p);
            match scenario {
                "rate limited" => {
                    assert_eq!(out.code, 0, "{what}");
                    assert!(
                        out.stderr.contains(": rate limited on GET")
                            && out.stderr.contains("; waiting "),
                        "{what}"
                    );
                    assert_eq!(pages, one_page, "{what}");
                }
                "500 twice" => {
                    assert_eq!(out.code, 0, "{what}");
                    assert_eq!(
                        out.stderr.matches("HTTP 500; retrying in").count(),
                        2,
                        "{what}"
                    );
                    assert_eq!(pages, one_page, "{what}");
                }
                "401" => {
                    assert_eq!(out.code, 1, "{what}");
                    assert!(out.stderr.contains("was refused (HTTP 401)"), "{what}");
                    assert_eq!(pages, Vec::<String>::new(), "{what}");
                }
                "not JSON" => {
                    assert_eq!(out.code, 1, "{what}");
                    assert!(
                        out.stderr
                            .contains("answered with a body weir cannot read: not JSON"),
                        "{what}"
                    );
                    assert_eq!(pages, Vec::<String>::new(), "{what}");
                }
                _ => {
                    // Three tries of 0.5 s each, then the answer arrives too late every time.
                    assert_eq!(out.code, 2, "{what}");
                    assert!(
                        out.stderr.contains("failed after 3 tries: timed out"),
                        "{what}"
                    );
                    // Every try timed out: no page was written.
                    assert_eq!(pages, Vec::<String>::new(), "{what}");
                }
            }
            assert!(!out.stderr.contains(v.token), "{what}");
            assert!(
                p.files("raw_data").iter().all(|f| !f.contains(".tmp")),
                "{what}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_settings_are_named() {
    let p = Project::fixture("empty");
    let out = p
        .weir_async(
            &["extract", "pagerduty"],
            &[("PAGERDUTY_SECRET", "abc\u{7}def")],
        )
        .await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("error: pagerduty: PAGERDUTY_SECRET cannot be sent"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("abc"),
        "the token was printed: {}",
        out.stderr
    );
    let out = p
        .weir_async(
            &["extract", "datadog"],
            &[
                ("DATADOG_API_KEY", "k"),
                ("DATADOG_APPLICATION_KEY", "a"),
                ("DATADOG_BASE_URL", "not a url"),
            ],
        )
        .await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("DATADOG_BASE_URL is not a usable URL"),
        "{}",
        out.stderr
    );
    // The variable named is the one whose value cannot be sent, not the vendor's first.
    let out = p
        .weir_async(
            &["extract", "datadog"],
            &[
                ("DATADOG_API_KEY", "fine"),
                ("DATADOG_APPLICATION_KEY", "bad\nkey"),
            ],
        )
        .await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("error: datadog: DATADOG_APPLICATION_KEY cannot be sent"),
        "{}",
        out.stderr
    );
}
