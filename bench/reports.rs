//! Reports at scale (issue 19, target 4): a project with every shipped mapper, query and schema,
//! the shipped sample for the sources that are not PagerDuty's, and generated PagerDuty data:
//! `n` incidents (as the load sets make them), 3 to 8 log entries per incident (trigger,
//! notifications, acknowledge, escalate, annotate, resolve), the users they page, the services and
//! the teams. Loaded once per engine, then every shipped report is timed on its own.

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use super::{REPO, Rng, Rows, copy_dir, incident, party, time, verdict};

/// Users the incidents' assignments name: `below(200) + k * 1000` for k < 3.
const USERS: [u64; 3] = [0, 1000, 2000];
const SERVICES: u64 = 40;
const TEAMS: u64 = 6;
const PER_PAGE: usize = 100;

/// A page file in weir's envelope.
fn write_page(dir: &Path, p: usize, endpoint: &str, key: &str, records: Vec<Value>) -> u64 {
    let page = json!({
        "weir_page": p + 1, "source": "pagerduty", "endpoint": endpoint,
        "params": {"limit": PER_PAGE, "offset": p * PER_PAGE},
        "fetched_at": "2027-06-01T00:00:00Z", "context": {},
        "body": {key: records, "limit": PER_PAGE, "offset": p * PER_PAGE, "more": true},
    });
    let path = dir.join(format!("page-{p:06}.json"));
    let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
    serde_json::to_writer(&mut w, &page).unwrap();
    w.flush().unwrap();
    std::fs::metadata(&path).unwrap().len()
}

/// Writes `records` in pages of 100 under raw_data/<folder>/; returns the bytes.
fn write_all(root: &Path, folder: &str, key: &str, records: impl Iterator<Item = Value>) -> u64 {
    let dir = root.join("raw_data").join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let endpoint = format!("/{key}");
    let (mut bytes, mut page, mut p) = (0, Vec::with_capacity(PER_PAGE), 0);
    for r in records {
        page.push(r);
        if page.len() == PER_PAGE {
            bytes += write_page(&dir, p, &endpoint, key, std::mem::take(&mut page));
            p += 1;
        }
    }
    if !page.is_empty() {
        bytes += write_page(&dir, p, &endpoint, key, page);
    }
    bytes
}

fn ts(s: u64) -> String {
    jiff::Timestamp::from_second(s as i64).unwrap().to_string()
}

/// Incident `n`'s log entries, oldest first, on its service and team.
fn log_entries(n: u64) -> Vec<Value> {
    let incident = incident(n, false);
    let mut r = Rng::new(n ^ 0x5EED);
    let created = 1_767_225_600 + n * 37;
    let incident_ref = json!({"id": incident["id"], "type": "incident_reference",
        "summary": incident["summary"]});
    let service_ref = incident["service"].clone();
    let team = incident["teams"].clone();
    let user = |r: &mut Rng| {
        let u = r.below(200) + USERS[r.below(3) as usize];
        party("user", "PU", u, &format!("User {u}"))
    };
    let mut out = Vec::new();
    let mut entry = |kind: &str, at: u64, summary: &str, extra: Value| {
        let mut e = json!({
            "id": format!("L{n:08}{}", out.len()),
            "type": kind,
            "summary": summary,
            "created_at": ts(at),
            "incident": incident_ref,
            "service": service_ref,
            "teams": team,
            "html_url": format!("https://acme.pagerduty.com/incidents/Q{n:08}/log_entries/{}", out.len()),
        });
        if let (Value::Object(e), Value::Object(x)) = (&mut e, extra) {
            e.extend(x);
        }
        out.push(e);
    };
    entry(
        "trigger_log_entry",
        created,
        "Triggered through the API",
        json!({"agent": service_ref, "channel": {"type": "api"},
               "event_details": {"description": format!("incident {n}")}}),
    );
    for k in 0..1 + r.below(3) {
        let how = ["sms", "phone", "email", "push_notification"][r.below(4) as usize];
        entry(
            "notify_log_entry",
            created + 5 + k,
            "Notified",
            json!({"user": user(&mut r), "channel": {"type": "auto", "notification": {"type": how}}}),
        );
    }
    let mut at = created + 30;
    if r.below(10) < 8 {
        at += r.below(1800);
        entry(
            "acknowledge_log_entry",
            at,
            "Acknowledged",
            json!({"agent": user(&mut r), "channel": {"type": "mobile"}, "acknowledgement_timeout": 1800}),
        );
    }
    if r.below(10) < 3 {
        at += 300;
        entry(
            "escalate_log_entry",
            at,
            "Escalated to level 2 due to timeout",
            json!({"agent": service_ref, "channel": {"type": "timeout"}}),
        );
    }
    if r.below(10) < 2 {
        at += 60;
        entry(
            "annotate_log_entry",
            at,
            "Note added",
            json!({"agent": user(&mut r), "channel": {"type": "note"}}),
        );
    }
    if r.below(10) < 7 {
        at += 60 + r.below(7200);
        let agent = if r.below(4) == 0 {
            service_ref.clone()
        } else {
            user(&mut r)
        };
        entry(
            "resolve_log_entry",
            at,
            "Resolved",
            json!({"agent": agent, "channel": {"type": "mobile"}}),
        );
    }
    out
}

fn user(u: u64) -> Value {
    let zones = [
        "Europe/London",
        "America/New_York",
        "Asia/Tokyo",
        "Europe/Berlin",
        "",
    ];
    json!({
        "id": format!("PU{u:05}"), "type": "user", "summary": format!("User {u}"),
        "name": format!("User {u}"), "email": format!("user{u}@acme.example"),
        "time_zone": zones[(u % 5) as usize], "role": "user", "color": "purple",
        "invitation_sent": false, "created_via_sso": true,
        "html_url": format!("https://acme.pagerduty.com/users/PU{u:05}"),
        "teams": [party("team", "PT", u % TEAMS, &format!("Team {}", u % TEAMS))],
        "contact_methods": [
            {"id": format!("PC{u:05}E"), "type": "email_contact_method", "label": "Default",
             "address": format!("user{u}@acme.example"), "send_short_email": false},
            {"id": format!("PC{u:05}P"), "type": "phone_contact_method", "label": "Mobile",
             "address": "8085550110", "country_code": 1, "blacklisted": false},
        ],
    })
}

fn service(s: u64) -> Value {
    json!({
        "id": format!("PS{s:05}"), "type": "service", "name": format!("Service {s}"),
        "description": null, "status": "active", "created_at": "2025-01-01T00:00:00Z",
        "auto_resolve_timeout": 14400, "acknowledgement_timeout": 1800,
        "alert_creation": "create_alerts_and_incidents",
        "escalation_policy": party("escalation_policy", "PE", s % 8, "Default"),
        "teams": [party("team", "PT", s % TEAMS, &format!("Team {}", s % TEAMS))],
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        "html_url": format!("https://acme.pagerduty.com/service-directory/PS{s:05}"),
    })
}

fn team(t: u64) -> Value {
    json!({"id": format!("PT{t:05}"), "type": "team", "name": format!("Team {t}"),
           "description": null, "html_url": format!("https://acme.pagerduty.com/teams/PT{t:05}")})
}

/// The project: shipped schemas, mappers, queries and .env; the sample of every source that is
/// not PagerDuty's; generated PagerDuty data for `n` incidents. Returns (log entries, bytes).
fn generate(dir: &Path, n: u64) -> (u64, u64) {
    for sub in ["schemas", "mappers", "queries"] {
        copy_dir(&Path::new(REPO).join(sub), &dir.join(sub));
    }
    std::fs::copy(Path::new(REPO).join(".env"), dir.join(".env")).unwrap();
    for e in std::fs::read_dir(Path::new(REPO).join("raw_data")).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("pagerduty_") {
            copy_dir(&e.path(), &dir.join("raw_data").join(&name));
        }
    }
    let mut bytes = write_all(
        dir,
        "pagerduty_incidents",
        "incidents",
        (0..n).map(|i| incident(i, false)),
    );
    let mut entries = 0;
    bytes += write_all(
        dir,
        "pagerduty_log_entries",
        "log_entries",
        (0..n).flat_map(log_entries).inspect(|_| entries += 1),
    );
    let users = USERS.iter().flat_map(|k| (0..200).map(move |u| u + k));
    bytes += write_all(dir, "pagerduty_users", "users", users.map(user));
    bytes += write_all(
        dir,
        "pagerduty_services",
        "services",
        (0..SERVICES).map(service),
    );
    bytes += write_all(dir, "pagerduty_teams", "teams", (0..TEAMS).map(team));
    (entries, bytes)
}

/// Times every shipped report at `n` incidents on both engines.
pub fn measure(weir: &Path, dir: &Path, n: u64, rows: &mut Rows) {
    let (entries, bytes) = generate(dir, n);
    rows.add("incidents / log entries", format!("{n} / {entries}"));
    rows.add("raw JSON (MB)", format!("{:.0}", bytes as f64 / 1e6));
    let mut names: Vec<String> = std::fs::read_dir(dir.join("queries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".sql").map(str::to_string))
        .filter(|f| !f.contains('.'))
        .collect();
    names.sort();
    let mut totals = Vec::new();
    let mut slowest_sqlite = (0.0, String::new());
    for engine in ["sqlite", "duckdb"] {
        let cmd = || {
            let mut c = Command::new(weir);
            c.args(["--root", dir.to_str().unwrap(), "--engine", engine, "-q"]);
            c
        };
        let load = time(|| {
            let out = cmd().args(["run-etl"]).output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
        rows.add(&format!("run-etl, {engine} (s)"), format!("{load:.1}"));
        let mut total = 0.0;
        for name in &names {
            let secs = time(|| {
                let out = cmd().args(["run-queries", name]).output().unwrap();
                assert!(
                    out.status.success(),
                    "{name} on {engine}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            });
            total += secs;
            rows.add(
                &format!("report {name}, {engine} (s)"),
                format!("{secs:.2}"),
            );
            if engine == "sqlite" && secs > slowest_sqlite.0 {
                slowest_sqlite = (secs, name.clone());
            }
        }
        rows.add(
            &format!("15 processes of one report, {engine} (s)"),
            format!("{total:.1}"),
        );
        // What an analyst runs: one `run-queries` of every report, opening the database once.
        let all = time(|| {
            let out = cmd().args(["run-queries"]).output().unwrap();
            assert!(
                out.status.success(),
                "run-queries on {engine}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        });
        rows.add(
            &format!("all reports, one run-queries, {engine} (s)"),
            format!("{all:.2}"),
        );
        totals.push(all);
    }
    rows.add(
        "target 4: DuckDB / SQLite, one run-queries of all reports (<= 0.25)",
        verdict(
            totals[1] / totals[0] <= 0.25,
            format!("{:.2}", totals[1] / totals[0]),
        ),
    );
    rows.add(
        "target 4: slowest report on SQLite (<= 10 s)",
        verdict(
            slowest_sqlite.0 <= 10.0,
            format!("{} {:.1} s", slowest_sqlite.1, slowest_sqlite.0),
        ),
    );
}
