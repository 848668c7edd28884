//! `weir extract` against a fake vendor on 127.0.0.1 that speaks the documented API shapes:
//! paging, rate limits, retries, refused tokens, broken bodies and timeouts.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_server::{FakeServer, Route};
use crate::harness::{Output, Project};

const SECRET: &str = "pd-secret-7f3a";

fn service(id: &str, name: &str) -> Value {
    json!({"id": id, "type": "service", "summary": name, "name": name, "status": "active",
           "created_at": "2026-01-05T10:00:00-05:00", "teams": [], "escalation_policy": {"id": "PE1"}})
}

fn incident(id: &str, n: u64, created: &str) -> Value {
    json!({"id": id, "type": "incident", "incident_number": n, "title": format!("Incident {n}"),
           "status": "resolved", "urgency": "high", "created_at": created, "updated_at": created,
           "last_status_change_at": created, "resolved_at": created,
           "service": {"id": "PS1", "type": "service_reference", "summary": "Checkout"},
           "assignments": [], "teams": []})
}

/// A PagerDuty list page: the documented offset/limit envelope.
fn pd_page(key: &str, records: Vec<Value>, offset: u64, more: bool) -> Value {
    json!({key: records, "limit": 2, "offset": offset, "more": more, "total": null})
}

fn incidents_page(more: bool) -> Value {
    pd_page(
        "incidents",
        vec![
            incident("Q1", 1, "2026-11-01T10:00:00Z"),
            incident("Q2", 2, "2026-11-02T10:00:00Z"),
        ],
        0,
        more,
    )
}

fn pagerduty(server: &FakeServer) {
    let auth = format!("Token token={SECRET}");
    server.add(
        Route::get("/services")
            .query("offset", "0")
            .header("authorization", &auth)
            .json(
                200,
                pd_page(
                    "services",
                    vec![service("PS1", "Checkout"), service("PS2", "Search")],
                    0,
                    true,
                ),
            ),
    );
    server.add(
        Route::get("/services")
            .query("offset", "2")
            .header("authorization", &auth)
            .json(
                200,
                pd_page("services", vec![service("PS3", "Payments")], 2, false),
            ),
    );
    server.add(
        Route::get("/incidents")
            .query("offset", "0")
            .header("authorization", &auth)
            .json(200, incidents_page(false)),
    );
}

async fn run(p: &Project, server: &FakeServer, args: &[&str]) -> Output {
    let env = [
        ("PAGERDUTY_SECRET", SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
    ];
    p.weir_async(args, &env).await
}

const PD: [&str; 10] = [
    "extract",
    "pagerduty",
    "--entity",
    "services",
    "--entity",
    "incidents",
    "--since",
    "2026-10-20",
    "--until",
    "2026-11-10",
];

/// Only PagerDuty's incidents, the incremental entity.
const INCIDENTS: [&str; 4] = ["extract", "pagerduty", "--entity", "incidents"];

fn no_secret_anywhere(p: &Project, out: &Output) {
    assert!(
        !out.stderr.contains(SECRET) && !out.stdout.contains(SECRET),
        "the token was printed"
    );
    for f in p.files("raw_data") {
        let text = std::fs::read_to_string(p.path("raw_data").join(&f)).unwrap();
        assert!(!text.contains(SECRET), "the token is in {f}");
    }
}

fn json_file(p: &Project, rel: &str) -> Value {
    serde_json::from_str(&p.read(rel)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_land_as_envelopes_and_load() {
    let server = FakeServer::start().await;
    pagerduty(&server);
    let p = Project::fixture("empty");
    let out = run(&p, &server, &PD).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    let files = p.files("raw_data");
    let services: Vec<&String> = files
        .iter()
        .filter(|f| f.starts_with("pagerduty_services/"))
        .collect();
    assert_eq!(services.len(), 2, "{files:?}");
    assert_eq!(
        files
            .iter()
            .filter(|f| f.starts_with("pagerduty_incidents/"))
            .count(),
        1,
        "{files:?}"
    );
    assert!(files.iter().all(|f| !f.contains(".tmp")), "{files:?}");
    let page = json_file(&p, &format!("raw_data/{}", services[0]));
    assert_eq!(page["weir_page"], 1);
    assert_eq!(page["source"], "pagerduty");
    assert_eq!(page["endpoint"], "/services");
    assert_eq!(page["params"]["offset"], "0");
    assert!(page["fetched_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(page["body"]["services"][0]["id"], "PS1");
    // The high-water mark is the latest incident seen.
    let state = json_file(&p, "raw_data/pagerduty.state.json");
    assert_eq!(state["high_water"]["incidents"], "2026-11-02T10:00:00Z");
    no_secret_anywhere(&p, &out);
    // The next run starts from the mark less a week's overlap, and adds pages beside the old.
    let out = run(
        &p,
        &server,
        &[&INCIDENTS[..], &["--until", "2026-11-20"]].concat(),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    let incidents = p.files("raw_data/pagerduty_incidents");
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    let params: Vec<Value> = incidents
        .iter()
        .map(|f| json_file(&p, &format!("raw_data/pagerduty_incidents/{f}"))["params"].clone())
        .collect();
    assert!(
        params
            .iter()
            .any(|q| q["since"] == "2026-10-26T10:00:00Z" && q["until"] == "2026-11-20T00:00:00Z"),
        "{params:?}"
    );
    // What was extracted loads, and the reports run on it.
    let out = p.weir_async(&["run"], &[]).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("loaded pagerduty_services "))
        .unwrap_or_default();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words.get(2..6),
        Some(&["2", "files", "3", "records"][..]),
        "{}",
        out.stderr
    );
    // End to end: extracted pages -> run-etl -> the reports.
    let health = p.read("output/pagerduty_service_health.csv");
    assert!(health.contains("Checkout,2,2,"), "{health}");
    insta::assert_snapshot!("extracted__pagerduty_service_health", health);
    insta::assert_snapshot!(
        "extracted__pagerduty_oncall_load",
        p.read("output/pagerduty_oncall_load.csv")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_waited_out() {
    let server = FakeServer::start().await;
    // The first call to services is answered 429 (Retry-After 1s), the first two to incidents 500.
    server.add(
        Route::get("/services")
            .query("offset", "0")
            .text(429, "")
            .with_header("retry-after", "1")
            .times(1)
            .priority(1),
    );
    server.add(
        Route::get("/incidents")
            .text(500, "upstream broke")
            .times(2)
            .priority(1),
    );
    pagerduty(&server);
    let p = Project::fixture("empty");
    let out = run(&p, &server, &PD).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("pagerduty: rate limited on GET /services?limit=100&offset=0; waiting 1s"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("HTTP 500; retrying in").count(),
        2,
        "{}",
        out.stderr
    );
    assert_eq!(p.files("raw_data/pagerduty_services").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_a_clear_error() {
    let server = FakeServer::start().await;
    server.add(Route::get("/services").json(401, json!({"error": {"message": "Unauthorized"}})));
    let p = Project::fixture("empty");
    let out = run(&p, &server, &PD).await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: pagerduty: GET /services?limit=100&offset=0 was refused (HTTP 401): check the token and its permissions
      hint: the token was refused; set a valid one (it is never printed)
    ");
    no_secret_anywhere(&p, &out);
    // Without the variable at all:
    let out = p.weir_async(&["extract", "pagerduty"], &[]).await;
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: pagerduty: PAGERDUTY_SECRET is not set
      hint: set PAGERDUTY_SECRET (or PAGERDUTY_TOKEN) in the environment or in the project's .env
    ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_page_keeps_what_came_before_and_the_state() {
    let server = FakeServer::start().await;
    server.add(
        Route::get("/incidents")
            .query("offset", "2")
            .text(200, "<html>maintenance</html>"),
    );
    server.add(
        Route::get("/incidents")
            .query("offset", "0")
            .json(200, incidents_page(true)),
    );
    let p = Project::fixture("empty");
    let out = run(
        &p,
        &server,
        &[
            &INCIDENTS[..],
            &["--since", "2026-10-20", "--until", "2026-11-10"],
        ]
        .concat(),
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("answered with a body weir cannot read: not JSON"),
        "{}",
        out.stderr
    );
    // The first page is whole, nothing is half-written, and the state did not move.
    assert_eq!(p.files("raw_data/pagerduty_incidents").len(), 1);
    assert!(p.files("raw_data").iter().all(|f| !f.contains(".tmp")));
    assert!(!p.path("raw_data/pagerduty.state.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_vendor_times_out() {
    let server = FakeServer::start().await;
    server.add(
        Route::get("/services")
            .json(200, pd_page("services", vec![], 0, false))
            .delay(Duration::from_secs(3)),
    );
    let p = Project::fixture("empty");
    let out = run(
        &p,
        &server,
        &[
            "extract",
            "pagerduty",
            "--entity",
            "services",
            "--timeout",
            "0.5",
            "--retries",
            "1",
        ],
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("GET /services?limit=100&offset=0 failed after 2 tries: timed out"),
        "{}",
        out.stderr
    );
}

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
            // Pages are the files inside the vendor's folders (not .gitkeep or the state file).
            let pages = p
                .files("raw_data")
                .into_iter()
                .filter(|f| f.contains('/'))
                .count();
            match scenario {
                "rate limited" => {
                    assert_eq!(out.code, 0, "{what}");
                    assert!(
                        out.stderr.contains(": rate limited on GET")
                            && out.stderr.contains("; waiting "),
                        "{what}"
                    );
                    assert_eq!(pages, 1, "{what}");
                }
                "500 twice" => {
                    assert_eq!(out.code, 0, "{what}");
                    assert_eq!(
                        out.stderr.matches("HTTP 500; retrying in").count(),
                        2,
                        "{what}"
                    );
                    assert_eq!(pages, 1, "{what}");
                }
                "401" => {
                    assert_eq!(out.code, 1, "{what}");
                    assert!(out.stderr.contains("was refused (HTTP 401)"), "{what}");
                    assert_eq!(pages, 0, "{what}");
                }
                "not JSON" => {
                    assert_eq!(out.code, 1, "{what}");
                    assert!(
                        out.stderr
                            .contains("answered with a body weir cannot read: not JSON"),
                        "{what}"
                    );
                    assert_eq!(pages, 0, "{what}");
                }
                _ => {
                    // Three tries of 0.5 s each, then the answer arrives too late every time.
                    assert_eq!(out.code, 2, "{what}");
                    assert!(
                        out.stderr.contains("failed after 3 tries: timed out"),
                        "{what}"
                    );
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
}

/// SIGKILL during an extract leaves only whole pages and a state file that is whole and no
/// further along than the pages on disk: the next extract and load give what a clean one gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_extract_leaves_whole_pages() {
    let server = FakeServer::start().await;
    let auth = format!("Token token={SECRET}");
    // Slow pages, so kills land between and during them.
    for offset in 0..6u64 {
        let records: Vec<Value> = (0..2)
            .map(|i| {
                let n = offset * 2 + i;
                service(&format!("PS{n}"), &format!("Service {n}"))
            })
            .collect();
        server.add(
            Route::get("/services")
                .query("offset", &(offset * 2).to_string())
                .header("authorization", &auth)
                .delay(Duration::from_millis(60))
                .json(200, pd_page("services", records, offset * 2, offset < 5)),
        );
    }
    server.add(
        Route::get("/incidents")
            .query("offset", "0")
            .header("authorization", &auth)
            .delay(Duration::from_millis(60))
            .json(200, incidents_page(false)),
    );
    let env = [
        ("PAGERDUTY_SECRET", SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
    ];
    let clean = Project::fixture("empty");
    let out = clean.weir_async(&PD, &env).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    clean.ok(&["run-etl"]);
    let expected = clean.dump_without("warehouse.sqlite", &["fetched_at"]);

    let p = Project::fixture("empty");
    for round in 0..10u64 {
        let mut child = p.spawn_env(&PD, &env);
        tokio::time::sleep(Duration::from_millis(30 + round * 53)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        for f in p.files("raw_data") {
            let text = p.read(&format!("raw_data/{f}"));
            let hidden = f.split('/').any(|part| part.starts_with('.'));
            if !hidden {
                assert!(
                    serde_json::from_str::<Value>(&text).is_ok(),
                    "round {round}: {f} is not whole"
                );
            }
        }
    }
    let out = p.weir_async(&PD, &env).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    p.ok(&["run-etl"]);
    crate::harness::assert_same(
        &p.dump_without("warehouse.sqlite", &["fetched_at"]),
        &expected,
        "after killed extracts",
    );
}
