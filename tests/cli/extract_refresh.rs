//! Incremental extracts keep what can still change current: PagerDuty incidents that changed
//! (named by log entries since the mark) or were open at the last run, and Sentry issues last
//! seen unresolved or ignored, are fetched again by id; the requests grow with those records,
//! not with history; a run cut short mid-refresh is completed by the next.

use serde_json::{Value, json};

use crate::extract::{SECRET, incident, json_file, log_entry, pd_page};
use crate::fake_server::{FakeServer, Route};
use crate::harness::{Output, Project};

const REFRESH: [&str; 6] = [
    "extract",
    "pagerduty",
    "--entity",
    "incidents",
    "--entity",
    "log_entries",
];

async fn pagerduty(p: &Project, server: &FakeServer, args: &[&str]) -> Output {
    let env = [
        ("PAGERDUTY_SECRET", SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
    ];
    p.weir_async(args, &env).await
}

/// Incident `n` of the first run's 5,000: created 2026-09-26 plus `n` minutes; all resolved
/// but I00001 (triggered) and I00002 (acknowledged).
fn listed(n: u64) -> Value {
    let created = jiff::Timestamp::from_second(1_790_380_800 + 60 * n as i64)
        .unwrap()
        .to_string();
    let mut i = incident(&format!("I{n:05}"), n, &created);
    match n {
        1 => {
            i["status"] = json!("triggered");
            i["resolved_at"] = Value::Null;
        }
        2 => {
            i["status"] = json!("acknowledged");
            i["resolved_at"] = Value::Null;
        }
        _ => {}
    }
    i
}

fn by_id(server: &FakeServer, id: &str, resolved_at: &str) {
    let mut i = incident(id, 1, "2026-09-26T00:01:00Z");
    i["resolved_at"] = json!(resolved_at);
    i["last_status_change_at"] = json!(resolved_at);
    server.add(Route::get(format!("/incidents/{id}")).json(200, json!({ "incident": i })));
}

#[tokio::test]
async fn changed_and_open_incidents_are_refreshed_with_a_handful_of_requests() {
    let p = Project::fixture("empty");
    // The first run lists 5,000 incidents in 50 pages; two of them are still open.
    let first = FakeServer::start().await;
    for page in 0..50u64 {
        let records = (page * 100 + 1..=page * 100 + 100).map(listed).collect();
        let mut body = pd_page("incidents", records, page * 100, page < 49);
        body["limit"] = json!(100);
        first.add(
            Route::get("/incidents")
                .query("offset", &(page * 100).to_string())
                .json(200, body),
        );
    }
    first.add(Route::get("/log_entries").json(200, pd_page("log_entries", vec![], 0, false)));
    let args: Vec<&str> = REFRESH
        .iter()
        .copied()
        .chain(["--since", "2026-09-25", "--until", "2026-10-20"])
        .collect();
    let out = pagerduty(&p, &first, &args).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state = json_file(&p, "raw_data/pagerduty.state.json");
    assert_eq!(
        state["open"]["incidents"],
        json!({"I00001": {}, "I00002": {}})
    );

    // Since then: I00001 (created 2026-09-26, weeks before the mark) was resolved, and log
    // entries name two long-resolved incidents (an annotation, a reassignment). I00002 was
    // resolved too, but no log entry the run sees says so: the open list catches it.
    let second = FakeServer::start().await;
    second.add(Route::get("/incidents").json(200, pd_page("incidents", vec![], 0, false)));
    let entries = vec![
        log_entry("L1", "resolve", "I00001", "PU1", "2026-11-25T10:00:00Z"),
        log_entry("L2", "annotate", "I00100", "PU2", "2026-11-25T11:00:00Z"),
        log_entry("L3", "assign", "I04000", "PU2", "2026-11-26T09:00:00Z"),
    ];
    second.add(Route::get("/log_entries").json(200, pd_page("log_entries", entries, 0, false)));
    by_id(&second, "I00001", "2026-11-25T10:00:00Z");
    by_id(&second, "I00002", "2026-11-24T08:00:00Z");
    by_id(&second, "I00100", "2026-09-26T03:00:00Z");
    by_id(&second, "I04000", "2026-09-29T10:00:00Z");
    let out = pagerduty(&p, &second, &REFRESH).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("(4 refreshed by id)"), "{}", out.stderr);
    let requests = second.requests();
    let mut one_by_one: Vec<&str> = requests
        .iter()
        .map(|r| r.split('?').next().unwrap())
        .filter(|r| r.starts_with("/incidents/"))
        .collect();
    one_by_one.sort();
    assert_eq!(
        one_by_one,
        [
            "/incidents/I00001",
            "/incidents/I00002",
            "/incidents/I00100",
            "/incidents/I04000"
        ]
    );
    // The windows since the marks (a few of 30 days each) and the four: a handful, not 5,000.
    assert!(requests.len() <= 10, "{requests:#?}");
    let state = json_file(&p, "raw_data/pagerduty.state.json");
    assert_eq!(state.get("open"), None, "{state}");
    assert_eq!(state.get("pending"), None, "{state}");

    let out = p.weir(&["run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT id || ' ' || status || ' ' || resolved_at FROM pagerduty_incidents \
             WHERE id IN ('I00001', 'I00002') ORDER BY id"
        ),
        [
            "I00001 resolved 2026-11-25T10:00:00.000Z",
            "I00002 resolved 2026-11-24T08:00:00.000Z"
        ]
    );
    // pagerduty_response_times counts I00001 as resolved in its month of creation (September):
    // 60 minutes after it, resolve entry at 2026-11-25T10:00Z.
    let report = p.read("output/pagerduty_response_times.csv");
    let september = report
        .lines()
        .find(|l| l.starts_with("PS1,Checkout,2026-09,"))
        .unwrap_or_else(|| panic!("{report}"));
    let resolved: u64 = september.split(',').nth(7).unwrap().parse().unwrap();
    let incidents: u64 = september.split(',').nth(3).unwrap().parse().unwrap();
    assert_eq!(resolved, incidents, "{september}");
}

#[tokio::test]
async fn a_refresh_cut_short_is_completed_by_the_next_run() {
    let p = Project::fixture("empty");
    p.write(
        "raw_data/pagerduty.state.json",
        r#"{"high_water": {"incidents": "2026-11-20T00:00:00Z"}, "open": {"incidents": {"P1": {}, "P2": {}}}}"#,
    );
    let failing = FakeServer::start().await;
    failing.add(Route::get("/incidents").json(200, pd_page("incidents", vec![], 0, false)));
    by_id(&failing, "P1", "2026-11-28T10:00:00Z");
    failing.add(Route::get("/incidents/P2").text(500, "upstream down"));
    let args = [
        "extract",
        "pagerduty",
        "--entity",
        "incidents",
        "--retries",
        "0",
    ];
    let out = pagerduty(&p, &failing, &args).await;
    // A vendor that keeps failing is not the user's to fix: exit code 2.
    assert_eq!(out.code, 2, "{}", out.stderr);
    // Nothing was dropped from the state before its page was on disk.
    let state = json_file(&p, "raw_data/pagerduty.state.json");
    let pending = state["pending"]["incidents"].as_array().unwrap();
    assert!(pending.contains(&json!("P2")), "{state}");

    let fixed = FakeServer::start().await;
    fixed.add(Route::get("/incidents").json(200, pd_page("incidents", vec![], 0, false)));
    by_id(&fixed, "P1", "2026-11-28T10:00:00Z");
    by_id(&fixed, "P2", "2026-11-29T10:00:00Z");
    let out = pagerduty(&p, &fixed, &args).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let state = json_file(&p, "raw_data/pagerduty.state.json");
    assert_eq!(state.get("pending"), None, "{state}");
    assert_eq!(state.get("open"), None, "{state}");
    assert!(
        fixed
            .requests()
            .iter()
            .any(|r| r.starts_with("/incidents/P2")),
        "{:?}",
        fixed.requests()
    );
    let out = p.weir(&["run-etl", "pagerduty_incidents"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT id || ' ' || status FROM pagerduty_incidents ORDER BY id"
        ),
        ["P1 resolved", "P2 resolved"]
    );
}

#[tokio::test]
async fn sentry_issues_resolved_without_an_event_or_deleted_are_current() {
    let p = Project::fixture("empty");
    p.write(
        "raw_data/sentry.state.json",
        r#"{"high_water": {"issues": "2026-11-20T00:00:00Z"},
            "open": {"issues": {"7": {"project": "1"}, "8": {"project": "1"}}}}"#,
    );
    // What the last run stored: both unresolved.
    let issue = |id: &str, status: &str| {
        json!({"id": id, "shortId": format!("API-{id}"), "title": "TypeError", "status": status,
               "project": {"id": "1", "slug": "api"}, "count": "12", "userCount": 3,
               "firstSeen": "2026-11-01T10:00:00Z", "lastSeen": "2026-11-19T10:00:00Z"})
    };
    p.write(
        "raw_data/sentry_issues/old.json",
        &json!({"weir_page": 1, "source": "sentry", "endpoint": "/api/0/organizations/acme/issues/",
                "fetched_at": "2026-11-20T00:00:00Z", "context": {},
                "body": [issue("7", "unresolved"), issue("8", "unresolved")]})
        .to_string(),
    );
    let server = FakeServer::start().await;
    // No new event: the window lists neither.
    server.add(Route::get("/api/0/organizations/acme/issues/").json(200, json!([])));
    server.add(Route::get("/api/0/organizations/acme/issues/7/").json(200, issue("7", "resolved")));
    server.add(Route::get("/api/0/organizations/acme/issues/8/").json(
        404,
        json!({"detail": "The requested resource does not exist"}),
    ));
    let env = [
        ("SENTRY_API_KEY", "sentry-secret"),
        ("SENTRY_ORG", "acme"),
        ("SENTRY_BASE_URL", server.uri.as_str()),
    ];
    let out = p
        .weir_async(&["extract", "sentry", "--entity", "issues"], &env)
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("1 issues last seen open are gone upstream (HTTP 404)"),
        "{}",
        out.stderr
    );
    let state = json_file(&p, "raw_data/sentry.state.json");
    assert_eq!(state.get("open"), None, "{state}");
    let out = p.weir(&["run-etl", "sentry_issues"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT id || ' ' || status || ' ' || project_id FROM sentry_issues ORDER BY id"
        ),
        ["7 resolved 1", "8 deleted 1"]
    );
}
