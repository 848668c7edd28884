//! `weir extract pagerduty` against a fake vendor on 127.0.0.1 that speaks the documented API
//! shapes: paging, high-water marks, rate limits, retries, refused tokens, broken pages, timeouts,
//! kills, and the reports on what was extracted.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_server::{FakeServer, Route};
use crate::harness::{Output, Project};

pub(crate) const SECRET: &str = "pd-secret-7f3a";

pub(crate) fn service(id: &str, name: &str) -> Value {
    json!({"id": id, "type": "service", "summary": name, "name": name, "status": "active",
           "created_at": "2026-01-05T10:00:00-05:00", "teams": [], "escalation_policy": {"id": "PE1"}})
}

pub(crate) fn incident(id: &str, n: u64, created: &str) -> Value {
    json!({"id": id, "type": "incident", "incident_number": n, "title": format!("Incident {n}"),
           "status": "resolved", "urgency": "high", "created_at": created, "updated_at": created,
           "last_status_change_at": created, "resolved_at": created,
           "service": {"id": "PS1", "type": "service_reference", "summary": "Checkout"},
           "assignments": [], "teams": []})
}

/// A PagerDuty list page: the documented offset/limit envelope.
pub(crate) fn pd_page(key: &str, records: Vec<Value>, offset: u64, more: bool) -> Value {
    json!({key: records, "limit": 2, "offset": offset, "more": more, "total": null})
}

/// A user reference, as incidents and log entries carry them.
fn user_ref(id: &str) -> Value {
    let name = match id {
        "PU1" => "Ada Lovelace",
        "PU2" => "Grace Hopper",
        _ => "Linus Torvalds",
    };
    json!({"id": id, "type": "user_reference", "summary": name})
}

fn user(id: &str, teams: &[(&str, &str)]) -> Value {
    let teams: Vec<Value> = teams
        .iter()
        .map(|(id, name)| json!({"id": id, "type": "team_reference", "summary": name}))
        .collect();
    json!({"id": id, "type": "user", "name": user_ref(id)["summary"], "email": format!("{id}@acme.example"),
           "time_zone": "UTC", "role": "user", "teams": teams, "contact_methods": []})
}

/// One log entry about `incident` at `at`: `notify` names the user notified, the others the
/// user who acted.
pub(crate) fn log_entry(id: &str, kind: &str, incident: &str, user: &str, at: &str) -> Value {
    let mut entry = json!({"id": id, "type": format!("{kind}_log_entry"), "created_at": at,
                           "summary": kind, "service": {"id": "PS1", "type": "service_reference"},
                           "incident": {"id": incident, "type": "incident_reference"}});
    if kind == "notify" {
        entry["user"] = user_ref(user);
    } else {
        entry["agent"] = user_ref(user);
    }
    entry
}

/// Q1 was resolved (PagerDuty empties a resolved incident's assignments); Q2 is acknowledged and
/// still assigned to Ada.
pub(crate) fn incidents_page(more: bool) -> Value {
    let mut open = incident("Q2", 2, "2026-11-02T10:00:00Z");
    open["status"] = json!("acknowledged");
    open["resolved_at"] = Value::Null;
    open["assignments"] = json!([{"at": "2026-11-02T10:00:00Z", "assignee": user_ref("PU1")}]);
    pd_page(
        "incidents",
        vec![incident("Q1", 1, "2026-11-01T10:00:00Z"), open],
        0,
        more,
    )
}

/// Grace was notified of Q1, acknowledged and resolved it; Ada was notified of Q1 too (an
/// escalation) and of Q2, which she acknowledged.
fn log_entries_page() -> Value {
    pd_page(
        "log_entries",
        vec![
            log_entry("L1", "notify", "Q1", "PU2", "2026-11-01T10:01:00Z"),
            log_entry("L2", "acknowledge", "Q1", "PU2", "2026-11-01T10:10:00Z"),
            log_entry("L3", "notify", "Q1", "PU1", "2026-11-01T10:11:00Z"),
            log_entry("L4", "resolve", "Q1", "PU2", "2026-11-01T10:30:00Z"),
            log_entry("L5", "notify", "Q2", "PU1", "2026-11-02T10:01:00Z"),
            log_entry("L6", "acknowledge", "Q2", "PU1", "2026-11-02T10:05:00Z"),
        ],
        0,
        false,
    )
}

pub(crate) fn pagerduty(server: &FakeServer) {
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
    let teams = vec![
        json!({"id": "PT1", "type": "team", "name": "Payments", "summary": "Payments"}),
        json!({"id": "PT2", "type": "team", "name": "Search", "summary": "Search"}),
    ];
    server.add(
        Route::get("/teams")
            .query("offset", "0")
            .header("authorization", &auth)
            .json(200, pd_page("teams", teams, 0, false)),
    );
    let users = vec![
        user("PU1", &[("PT1", "Payments")]),
        user("PU2", &[("PT1", "Payments"), ("PT2", "Search")]),
        user("PU3", &[]),
    ];
    server.add(
        Route::get("/users")
            .query("offset", "0")
            .query("include[]", "contact_methods")
            .header("authorization", &auth)
            .json(200, pd_page("users", users, 0, false)),
    );
    server.add(
        Route::get("/log_entries")
            .query("offset", "0")
            .header("authorization", &auth)
            .json(200, log_entries_page()),
    );
}

/// Every entity of PagerDuty but the two of `PD`, in the same window.
pub(crate) const PD_REST: [&str; 12] = [
    "extract",
    "pagerduty",
    "--entity",
    "teams",
    "--entity",
    "users",
    "--entity",
    "log_entries",
    "--since",
    "2026-10-20",
    "--until",
    "2026-11-10",
];

pub(crate) async fn run(p: &Project, server: &FakeServer, args: &[&str]) -> Output {
    let env = [
        ("PAGERDUTY_SECRET", SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
    ];
    p.weir_async(args, &env).await
}

pub(crate) const PD: [&str; 10] = [
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
pub(crate) const INCIDENTS: [&str; 4] = ["extract", "pagerduty", "--entity", "incidents"];

pub(crate) fn no_secret_anywhere(p: &Project, out: &Output) {
    assert!(
        !out.stderr.contains(SECRET) && !out.stdout.contains(SECRET),
        "the token was printed"
    );
    for f in p.files("raw_data") {
        let text = std::fs::read_to_string(p.path("raw_data").join(&f)).unwrap();
        assert!(!text.contains(SECRET), "the token is in {f}");
    }
}

/// The pages under raw_data/, each as `<folder>/[STAMP]-<rest>`: the run's time stamp hidden.
pub(crate) fn page_files(p: &Project) -> Vec<String> {
    p.files("raw_data")
        .into_iter()
        .filter_map(|f| {
            let (folder, name) = f.split_once('/')?;
            let rest = name.split_once('-').map_or(name, |(_, rest)| rest);
            Some(format!("{folder}/[STAMP]-{rest}"))
        })
        .collect()
}

pub(crate) fn json_file(p: &Project, rel: &str) -> Value {
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
    let fetched_at = page["fetched_at"].as_str().unwrap();
    // UTC to the millisecond: 2026-12-02T05:28:58.123Z
    assert!(
        fetched_at.len() == 24 && fetched_at.ends_with('Z') && &fetched_at[19..20] == ".",
        "{fetched_at}"
    );
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
    let out = run(&p, &server, &PD_REST).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
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
    // Acknowledged after 10 and 5 minutes; only Q1 is resolved, after 30 minutes.
    let health = p.read("output/pagerduty_service_health.csv");
    assert!(health.contains("Checkout,2,2,7.5,30"), "{health}");
    insta::assert_snapshot!("extracted__pagerduty_service_health", health);
    // Ada: Q1 by a notification, Q2 by her assignment; Grace (two teams): Q1; Linus: nothing.
    let load = p.read("output/pagerduty_oncall_load.csv");
    let rows: Vec<&str> = load.lines().skip(1).collect();
    assert_eq!(rows.len(), 4, "{load}");
    assert!(rows[0].starts_with("Ada Lovelace,Payments,2,1"), "{load}");
    insta::assert_snapshot!("extracted__pagerduty_oncall_load", load);
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

/// RFC 9110 lets Retry-After be an HTTP-date as well as seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_may_be_an_http_date() {
    let server = FakeServer::start().await;
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    server.add(
        Route::get("/services")
            .query("offset", "0")
            .text(429, "")
            .with_header("retry-after", &date)
            .times(1)
            .priority(1),
    );
    pagerduty(&server);
    let p = Project::fixture("empty");
    let started = std::time::Instant::now();
    let out = run(
        &p,
        &server,
        &["extract", "pagerduty", "--entity", "services"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    // The date has whole seconds, so the wait is 2 or 3 seconds (not the minute weir waits
    // without a hint).
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("rate limited on GET /services"))
        .unwrap_or_default();
    assert!(
        line.ends_with("waiting 2s") || line.ends_with("waiting 3s"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(20));
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
    // Fetch times differ from run to run; a killed extract's pages that stay are versions of
    // their own, which history tables keep (the current tables are the same).
    let dump = |p: &Project| {
        crate::harness::without_history(&p.dump_without("warehouse.sqlite", &["fetched_at"]))
    };
    let expected = dump(&clean);

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
    crate::harness::assert_same(&dump(&p), &expected, "after killed extracts");
}
