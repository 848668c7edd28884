//! Singer taps: `weir extract singer` runs a tap written for the test (a Python 3 script in the
//! project folder), and a `singer:` mapper loads one stream of what it printed. Never the network.

use crate::harness::{Output, Project};

const TABLE: &str = "CREATE TABLE tap_incidents (id BIGINT PRIMARY KEY, title TEXT NOT NULL, \
                     severity TEXT, extracted_at TEXT);";
const MAPPER: &str = "\
singer: {stream: incidents, key_properties: true}
table: tap_incidents
key: [id]
version: extracted_at
columns:
  id: id
  title: title
  severity: severity
  extracted_at: {from: $time_extracted, type: timestamp}
";

/// Prints `TAP_RECORDS` incidents (a second stream, `users`, beside them), each after the saved
/// bookmark only; the schema gains `severity` before incident 4; a STATE after every incident.
const TAP: &str = r#"
import json, os, sys
args = sys.argv[1:]
after = 0
if "--state" in args:
    with open(args[args.index("--state") + 1]) as f:
        after = json.load(f)["bookmarks"]["incidents"]
    print(f"resuming after incident {after}", file=sys.stderr)
def out(m):
    print(json.dumps(m), flush=True)
props = {"id": {"type": "integer"}, "title": {"type": "string"}}
out({"type": "SCHEMA", "stream": "incidents", "schema": {"properties": props}, "key_properties": ["id"]})
out({"type": "SCHEMA", "stream": "users", "schema": {"properties": {"id": {}}}, "key_properties": ["id"]})
for i in range(after + 1, int(os.environ["TAP_RECORDS"]) + 1):
    record = {"id": i, "title": f"incident {i}"}
    if i >= 4:
        if i == 4 or i == after + 1:
            props["severity"] = {"type": "string"}
            out({"type": "SCHEMA", "stream": "incidents", "schema": {"properties": props}, "key_properties": ["id"], "bookmark_properties": ["id"]})
        record["severity"] = "sev2"
    out({"type": "RECORD", "stream": "incidents", "record": record, "time_extracted": f"2026-03-{i:02}T10:00:00Z", "version": 1})
    out({"type": "RECORD", "stream": "users", "record": {"id": i}})
    out({"type": "STATE", "value": {"bookmarks": {"incidents": i}}})
out({"type": "ACTIVATE_VERSION", "stream": "incidents", "version": 1})
if os.environ.get("TAP_FAIL"):
    print("auth failed: the token was refused", file=sys.stderr)
    sys.exit(3)
"#;

fn project() -> Project {
    let p = Project::empty();
    p.write("schemas/01.sql", TABLE);
    p.write("mappers/tap_incidents.yaml", MAPPER);
    p.write("tap.py", TAP);
    p
}

/// `weir extract singer tap_incidents -- python3 tap.py`, the tap printing `records` incidents.
fn extract(p: &Project, records: &str, more: &[&str], env: &[(&str, &str)]) -> Output {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut args = vec!["extract", "singer", "tap_incidents"];
    args.extend(more);
    args.extend(["--", "python3", "tap.py"]);
    let mut vars = vec![("PATH", path.as_str()), ("TAP_RECORDS", records)];
    vars.extend(env);
    p.weir_env(&args, &vars)
}

fn rows(p: &Project) -> Vec<String> {
    p.sql(
        "sqlite",
        "SELECT id, title, severity, extracted_at FROM tap_incidents ORDER BY id",
    )
}

fn pages(p: &Project) -> Vec<String> {
    p.files("raw_data/tap_incidents")
}

#[test]
fn a_tap_is_extracted_in_pages_and_one_stream_loads() {
    let p = project();
    let out = extract(&p, "5", &["--page-messages", "4"], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("extracted tap_incidents                   5 pages      10 records; state saved to raw_data/tap_incidents.state.json"),
        "{}",
        out.stderr
    );
    // 2 + 5 × 3 + 1 schema change + 1 ACTIVATE_VERSION = 19 messages, 4 a page.
    let names = pages(&p);
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(".jsonl") && !n.starts_with('.'))
    );
    assert!(names[0].ends_with("-p00001.jsonl"), "{names:?}");
    // A later page starts with the latest SCHEMA of each stream: the one with `severity` once
    // the tap has changed it.
    let last = p.read(&format!("raw_data/tap_incidents/{}", names[4]));
    let first: Vec<&str> = last.lines().take(2).collect();
    assert!(
        first[0].contains(r#""stream": "incidents""#) && first[0].contains("severity"),
        "{last}"
    );
    assert!(first[1].contains(r#""stream": "users""#), "{last}");
    let state: serde_json::Value =
        serde_json::from_str(&p.read("raw_data/tap_incidents.state.json")).unwrap();
    assert_eq!(state, serde_json::json!({"bookmarks": {"incidents": 5}}));

    let out = p.ok(&["run-etl"]);
    assert!(out.stderr.contains("5 written"), "{}", out.stderr);
    assert_eq!(
        rows(&p),
        [
            "1|incident 1||2026-03-01T10:00:00.000Z",
            "2|incident 2||2026-03-02T10:00:00.000Z",
            "3|incident 3||2026-03-03T10:00:00.000Z",
            "4|incident 4|sev2|2026-03-04T10:00:00.000Z",
            "5|incident 5|sev2|2026-03-05T10:00:00.000Z",
        ]
    );
}

#[test]
fn a_second_run_passes_the_state_and_appends_only_new_records() {
    let p = project();
    assert_eq!(extract(&p, "3", &[], &[]).code, 0);
    p.ok(&["run-etl"]);
    let before = pages(&p);
    assert_eq!(before.len(), 1);

    let out = extract(&p, "6", &[], &[]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    // The tap's stderr is passed on, prefixed with its name.
    assert!(
        out.stderr.contains("python3: resuming after incident 3"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(resumed from the saved state)"));
    let after = pages(&p);
    assert_eq!(after.len(), 2, "{after:?}");
    let new = p.read(&format!(
        "raw_data/tap_incidents/{}",
        after.iter().find(|n| !before.contains(n)).unwrap()
    ));
    let ids: Vec<i64> = new
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "incidents")
        .map(|m| m["record"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [4, 5, 6]);
    assert!(
        p.read("raw_data/tap_incidents.state.json")
            .contains(r#""incidents": 6"#)
    );

    let out = p.ok(&["run-etl"]);
    assert!(
        out.stderr.contains("3 written") && out.stderr.contains("1 files unchanged"),
        "{}",
        out.stderr
    );
    assert_eq!(rows(&p).len(), 6);
    assert_eq!(rows(&p)[5], "6|incident 6|sev2|2026-03-06T10:00:00.000Z");
}

#[test]
fn a_failing_tap_advances_no_state_and_says_why() {
    let p = project();
    assert_eq!(extract(&p, "2", &[], &[]).code, 0);
    let state = p.read("raw_data/tap_incidents.state.json");
    // It prints four more incidents with their STATEs in three full pages and a part, then
    // exits 3.
    let out = extract(&p, "6", &["--page-messages", "5"], &[("TAP_FAIL", "1")]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("singer_failing_tap", out.stderr);
    assert_eq!(p.read("raw_data/tap_incidents.state.json"), state);
    // The pages in place stay; the page being written is gone, and no temporary file is left.
    let names = pages(&p);
    assert_eq!(names.len(), 1 + 3, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    assert!(
        !p.files("raw_data")
            .iter()
            .any(|n| n.ends_with(".tmp") && !n.contains("weir.lock")),
    );
}

#[test]
fn a_tap_that_cannot_run_or_prints_no_messages_is_refused() {
    let p = project();
    let path = std::env::var("PATH").unwrap_or_default();
    let env = [("PATH", path.as_str())];
    let out = p.weir_env(
        &["extract", "singer", "tap_incidents", "--", "no-such-tap-x"],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("the tap `no-such-tap-x` cannot be started")
            && out.stderr.contains("install the tap"),
        "{}",
        out.stderr
    );
    p.write("logs.py", "print('starting the sync')\n");
    let out = p.weir_env(
        &[
            "extract",
            "singer",
            "tap_incidents",
            "--",
            "python3",
            "logs.py",
        ],
        &env,
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("line 1 of the tap's output is refused: not JSON"),
        "{}",
        out.stderr
    );
    assert!(pages(&p).is_empty());
    assert!(!p.path("raw_data/tap_incidents.state.json").exists());
    // A vendor's name would share that vendor's state file; `all` is the vendors' only.
    let out = p.weir(&["extract", "singer", "github", "--", "python3", "tap.py"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("weir's own extractor"),
        "{}",
        out.stderr
    );
    let out = p.weir(&["extract", "singer", "tap_incidents"]);
    assert_eq!(out.code, 1, "clap refuses a missing tap: {}", out.stderr);
    assert!(out.stderr.contains("<TAP>"), "{}", out.stderr);
    for n in ["0", "-1", "NaN", "inf", "1e20", "1000001", "2.5"] {
        let out = p.weir(&[
            "extract",
            "singer",
            "tap_incidents",
            "--page-messages",
            n,
            "--",
            "python3",
            "tap.py",
        ]);
        assert_eq!(out.code, 1, "{n}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("expected a whole number from 1 to 1000000"),
            "{n}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_bad_record_line_is_placed_at_its_line_and_column() {
    let p = project();
    p.write(
        "raw_data/tap_incidents/a.jsonl",
        concat!(
            r#"{"type": "SCHEMA", "stream": "incidents", "schema": {}, "key_properties": ["id"]}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "users", "record": {"id": "not checked"}}"#,
            "\n",
            r#"{"type": "STATE", "value": {}}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": "x7", "title": "a"}}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": 2, "title": "b"}, "time_extracted": "yesterday"}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": 3, "title": "c""#,
            "\n",
            r#"{"stream": "incidents", "record": {"id": 4}}"#,
            "\n",
            r#"{"type": "RECORD", "record": {"id": 5}}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": 6, "title": "ok"}}"#,
            "\n",
        ),
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("singer_bad_lines", out.stderr);
    // Set aside, the bad records keep their line; the good one loads.
    let out = p.weir(&["run-etl", "--on-error", "quarantine"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    assert_eq!(rows(&p), ["6|ok||"]);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT line, field FROM weir_rejected WHERE line IN (4, 5) ORDER BY line"
        ),
        ["4|id", "5|$time_extracted"]
    );
}

#[test]
fn the_schemas_key_properties_must_be_the_mappers_key() {
    let p = project();
    p.write(
        "raw_data/tap_incidents/a.jsonl",
        concat!(
            r#"{"type": "SCHEMA", "stream": "incidents", "schema": {}, "key_properties": ["number"]}"#,
            "\n",
            r#"{"type": "SCHEMA", "stream": "users", "schema": {}, "key_properties": ["login"]}"#,
            "\n",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": 1, "title": "a"}}"#,
            "\n",
        ),
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("singer_key_properties", out.stderr);
    // Without `key_properties: true` the mapper's own key stands.
    p.write(
        "mappers/tap_incidents.yaml",
        &MAPPER.replace(", key_properties: true", ""),
    );
    p.ok(&["run-etl"]);
    assert_eq!(rows(&p), ["1|a||"]);
}

#[test]
fn a_singer_mapper_is_checked() {
    let p = project();
    p.write(
        "mappers/tap_incidents.yaml",
        &MAPPER
            .replace("  id: id\n", "  id: incident.id\n")
            .replace("singer: {", "records: items\nsinger: {strem: x, "),
    );
    p.write("raw_data/tap_incidents/a.jsonl", "");
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!("singer_mapper_checked", out.stderr);
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn a_singer_source_loads_alike_on_every_engine() {
    let mut first: Option<(String, String)> = None;
    for engine in crate::harness::engines() {
        let p = project();
        assert_eq!(extract(&p, "5", &["--page-messages", "4"], &[]).code, 0);
        // A copy of incident 2 extracted earlier, in a file read last: the later one still wins.
        p.write(
            "raw_data/tap_incidents/zz-old.jsonl",
            r#"{"type": "RECORD", "stream": "incidents", "record": {"id": 2, "title": "old"}, "time_extracted": "2026-01-01T00:00:00Z"}"#,
        );
        p.ok(&["--engine", engine, "run-etl"]);
        let dump = p.dump_engine(engine, &[]);
        assert!(
            dump.contains("incident 2") && !dump.contains("old"),
            "{dump}"
        );
        match &first {
            None => first = Some((engine.to_string(), dump)),
            Some((other, expected)) => {
                crate::harness::assert_same(&dump, expected, &format!("{engine} vs {other}"));
            }
        }
    }
}
