//! History tables (`history: true`): every version of a row in `<table>_history` with its
//! validity, whatever the order the versions load in, re-runs and `--full` reloads included, the
//! same on every engine; complete sources close a gone key's last version.

use crate::harness::{Project, engines};

const TABLE: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, status TEXT NOT NULL, n BIGINT, v TEXT);";
pub const MAPPER: &str = "table: t\nkey: [id]\nversion: v\nhistory: true\ncolumns:\n  id: id\n  \
                      status: status\n  n: n\n  v: {from: v, type: timestamp}\n";

/// A project with one history table and no raw files yet.
pub fn project(mapper: &str) -> Project {
    let p = Project::empty();
    p.write("schemas/01.sql", TABLE);
    p.write("mappers/t.yaml", mapper);
    std::fs::create_dir_all(p.path("raw_data/t")).unwrap();
    p
}

/// A raw file of records `(id, status, day of January 2026)`.
pub fn page(p: &Project, name: &str, records: &[(&str, &str, u32)]) {
    let lines: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(n, (id, status, day))| {
            format!(
                "{{\"id\": \"{id}\", \"status\": \"{status}\", \"n\": {n}, \"v\": \"2026-01-{day:02}T00:00:00Z\"}}"
            )
        })
        .collect();
    p.write(
        &format!("raw_data/t/{name}.jsonl"),
        &(lines.join("\n") + "\n"),
    );
}

fn history(p: &Project, engine: &str) -> Vec<String> {
    p.sql(
        engine,
        "SELECT id, status, valid_from, valid_to FROM t_history ORDER BY id, valid_from",
    )
}

fn current(p: &Project, engine: &str) -> Vec<String> {
    p.sql(engine, "SELECT id, status, v FROM t ORDER BY id")
}

const DAY: &str = "2026-01-";

/// `id|status|valid_from|valid_to` with days of January 2026 (0: NULL).
fn rows(rows: &[(&str, &str, u32, u32)]) -> Vec<String> {
    let at = |d: u32| {
        if d == 0 {
            String::new()
        } else {
            format!("{DAY}{d:02}T00:00:00.000Z")
        }
    };
    rows.iter()
        .map(|&(id, s, from, to)| format!("{id}|{s}|{}|{}", at(from), at(to)))
        .collect()
}

fn three_versions() -> Vec<String> {
    rows(&[
        ("a", "triggered", 1, 2),
        ("a", "acknowledged", 2, 5),
        ("a", "resolved", 5, 0),
        ("b", "triggered", 3, 0),
    ])
}

#[test]
fn versions_in_order_are_kept_with_their_validity() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "triggered", 1)]);
    page(&p, "2", &[("a", "acknowledged", 2), ("b", "triggered", 3)]);
    page(&p, "3", &[("a", "resolved", 5)]);
    p.ok(&["run-etl"]);
    assert_eq!(history(&p, "sqlite"), three_versions());
    // The current table holds the newest version, the history's open one.
    assert_eq!(
        current(&p, "sqlite"),
        [
            "a|resolved|2026-01-05T00:00:00.000Z",
            "b|triggered|2026-01-03T00:00:00.000Z"
        ]
    );
}

#[test]
fn versions_in_reverse_order_give_the_same_history() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "resolved", 5)]);
    page(&p, "2", &[("b", "triggered", 3), ("a", "acknowledged", 2)]);
    page(&p, "3", &[("a", "triggered", 1)]);
    p.ok(&["run-etl"]);
    assert_eq!(history(&p, "sqlite"), three_versions());
}

#[test]
fn a_version_loaded_late_goes_in_its_place_and_a_rerun_adds_nothing() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "triggered", 1), ("b", "triggered", 3)]);
    page(&p, "3", &[("a", "resolved", 5)]);
    p.ok(&["run-etl"]);
    assert_eq!(
        history(&p, "sqlite"),
        rows(&[
            ("a", "triggered", 1, 5),
            ("a", "resolved", 5, 0),
            ("b", "triggered", 3, 0),
        ])
    );
    // Loaded in a later run, older than the stored row: the current table keeps `resolved`,
    // the history takes the version between its neighbours.
    page(&p, "2", &[("a", "acknowledged", 2)]);
    let out = p.ok(&["run-etl"]);
    assert!(out.stderr.contains("1 superseded"), "{}", out.stderr);
    assert_eq!(history(&p, "sqlite"), three_versions());
    let dump = p.dump("warehouse.sqlite");
    p.ok(&["run-etl"]);
    assert_eq!(
        p.dump("warehouse.sqlite"),
        dump,
        "a re-run changed the tables"
    );
    p.ok(&["run-etl", "--full"]);
    assert_eq!(
        p.dump("warehouse.sqlite"),
        dump,
        "--full changed the tables"
    );
    p.ok(&["initialize", "--recreate"]);
    assert!(history(&p, "sqlite").is_empty());
    p.ok(&["run-etl"]);
    assert_eq!(
        p.dump("warehouse.sqlite"),
        dump,
        "a rebuild changed the tables"
    );
}

#[test]
fn equal_versions_keep_one_row_the_last_loaded_as_in_the_current_table() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "triggered", 1), ("a", "acked", 2)]);
    page(&p, "2", &[("a", "acknowledged", 2)]);
    p.ok(&["run-etl"]);
    let want = rows(&[("a", "triggered", 1, 2), ("a", "acknowledged", 2, 0)]);
    assert_eq!(history(&p, "sqlite"), want);
    assert_eq!(
        current(&p, "sqlite"),
        ["a|acknowledged|2026-01-02T00:00:00.000Z"]
    );
    // The two copies in one batch, the later one winning, and again with --full.
    let q = project(MAPPER);
    page(
        &q,
        "1",
        &[
            ("a", "triggered", 1),
            ("a", "acked", 2),
            ("a", "acknowledged", 2),
        ],
    );
    q.ok(&["run-etl"]);
    assert_eq!(history(&q, "sqlite"), want);
    q.ok(&["run-etl", "--full"]);
    assert_eq!(history(&q, "sqlite"), want);
}

#[test]
fn a_key_gone_from_a_complete_source_closes_its_last_version() {
    let p = project(&format!("complete: true\n{MAPPER}"));
    page(&p, "1", &[("a", "triggered", 1), ("b", "triggered", 2)]);
    p.ok(&["run-etl"]);
    page(&p, "1", &[("a", "acknowledged", 4)]);
    let out = p.ok(&["run-etl"]);
    assert!(out.stderr.contains("1 removed"), "{}", out.stderr);
    // `b` left the source by the newest version it still holds (a's, the 4th).
    let closed = rows(&[
        ("a", "triggered", 1, 4),
        ("a", "acknowledged", 4, 0),
        ("b", "triggered", 2, 4),
    ]);
    assert_eq!(history(&p, "sqlite"), closed);
    assert_eq!(
        current(&p, "sqlite"),
        ["a|acknowledged|2026-01-04T00:00:00.000Z"]
    );
    p.ok(&["run-etl", "--full"]);
    assert_eq!(history(&p, "sqlite"), closed);
    // Back again: its history goes on from its last version.
    page(&p, "1", &[("a", "acknowledged", 4), ("b", "resolved", 6)]);
    p.ok(&["run-etl"]);
    assert_eq!(
        history(&p, "sqlite"),
        rows(&[
            ("a", "triggered", 1, 4),
            ("a", "acknowledged", 4, 0),
            ("b", "triggered", 2, 6),
            ("b", "resolved", 6, 0),
        ])
    );
}

#[test]
fn a_refused_load_leaves_no_history() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "triggered", 1)]);
    p.write(
        "raw_data/t/2.jsonl",
        "{\"id\": \"a\", \"v\": \"2026-01-02T00:00:00Z\"}\n",
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(history(&p, "sqlite").is_empty());
}

#[test]
fn the_history_table_follows_the_schema() {
    let p = project(MAPPER);
    page(&p, "1", &[("a", "triggered", 1)]);
    p.ok(&["run-etl"]);
    // A new column in the current table: the history table made from it differs on disk.
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id TEXT PRIMARY KEY, status TEXT NOT NULL, n BIGINT, v TEXT, note TEXT);",
    );
    let out = p.weir(&["initialize"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: schemas/01.sql: table `t` in the database differs from the schema: column `note` is missing
      hint: run `weir initialize --recreate` to rebuild the tables from schemas/ (their rows are dropped; `weir run-etl` reloads them from raw_data/)
    error: mappers/t.yaml: table `t_history` in the database differs from the schema: column `note` is missing
      hint: run `weir initialize --recreate` to rebuild the tables from schemas/ (their rows are dropped; `weir run-etl` reloads them from raw_data/)
    2 problems
    ");
    p.ok(&["initialize", "--recreate"]);
    p.ok(&["run-etl"]);
    assert_eq!(history(&p, "sqlite"), rows(&[("a", "triggered", 1, 0)]));
    let columns = p.sql(
        "sqlite",
        "SELECT group_concat(name, ',') FROM pragma_table_info('t_history')",
    );
    assert_eq!(columns, ["id,status,n,v,note,valid_from,valid_to"]);
}

#[test]
fn history_needs_a_version_and_its_own_names() {
    let p = project(&MAPPER.replace("version: v\n", ""));
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: mappers/t.yaml:3:10: `history: true` needs a `version`
      hint: add `version: <column>`, a column that moves whenever the record does, such as `fetched_at`
    ");
    let p = project(MAPPER);
    p.write(
        "schemas/01.sql",
        &format!("{TABLE}\nCREATE TABLE t_history (id TEXT);"),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: mappers/t.yaml: table `t_history` is declared in schemas/01.sql, but `history: true` makes it from `t`
      hint: remove the CREATE TABLE of `t_history`, or rename it: weir keeps the history table itself
    ");
    let p = project(MAPPER);
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id TEXT PRIMARY KEY, status TEXT NOT NULL, n BIGINT, v TEXT, valid_to TEXT);",
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: mappers/t.yaml: table `t` has a column `valid_to`, which its history table adds
      hint: rename the column in schemas/01.sql
    ");
    let p = project(&MAPPER.replace("history: true", "history: yes"));
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @"error: mappers/t.yaml:4:10: `history` must be `true` or `false`");
}

#[test]
fn the_shipped_sample_keeps_incident_and_monitor_history() {
    let p = Project::shipped();
    p.ok(&["run"]);
    let changed = p.sql(
        "sqlite",
        "SELECT id, status, valid_from, valid_to FROM pagerduty_incidents_history \
         WHERE id = 'PFU70DW' ORDER BY valid_from",
    );
    assert_eq!(
        changed,
        [
            "PFU70DW|triggered|2026-11-01T06:00:24.000Z|2026-11-20T08:00:23.000Z",
            "PFU70DW|resolved|2026-11-20T08:00:23.000Z|"
        ]
    );
    // Every stored copy of a distinct version is a history row; the newest is the current row.
    let counts = p.sql(
        "sqlite",
        "SELECT (SELECT count(*) FROM pagerduty_incidents_history), \
                (SELECT count(*) FROM pagerduty_incidents_history WHERE valid_to IS NULL), \
                (SELECT count(*) FROM pagerduty_incidents), \
                (SELECT count(*) FROM datadog_monitors_history), \
                (SELECT count(*) FROM datadog_monitors)",
    );
    assert_eq!(counts, ["70|66|66|32|21"]);
    let report = p.read("output/pagerduty_status_history.csv");
    assert!(
        report.contains(
            "PFU70DW,1051,triggered,2026-11-01T06:00:24.000Z,2026-11-20T08:00:23.000Z,27480"
        ),
        "{report}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn history_is_identical_on_every_engine() {
    let mut first: Option<(String, Vec<String>, Vec<String>)> = None;
    for engine in engines() {
        let p = project(&format!("complete: true\n{MAPPER}"));
        page(&p, "1", &[("a", "resolved", 5), ("b", "triggered", 3)]);
        page(&p, "3", &[("a", "triggered", 1), ("a", "acked", 2)]);
        p.ok(&["--engine", engine, "run-etl"]);
        page(&p, "2", &[("a", "acknowledged", 2), ("c", "triggered", 4)]);
        page(&p, "3", &[("a", "triggered", 1)]);
        p.ok(&["--engine", engine, "run-etl"]);
        p.write("raw_data/t/1.jsonl", "");
        p.ok(&["--engine", engine, "run-etl"]);
        p.ok(&["--engine", engine, "run-etl", "--full"]);
        let got = (history(&p, engine), current(&p, engine));
        match &first {
            None => first = Some((engine.to_string(), got.0, got.1)),
            Some((other, h, c)) => {
                assert_eq!(&got.0, h, "history differs between {engine} and {other}");
                assert_eq!(
                    &got.1, c,
                    "current rows differ between {engine} and {other}"
                );
            }
        }
    }
    // The shipped sample's history tables too.
    let mut first: Option<(String, Vec<String>)> = None;
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run-etl"]);
        let mut got = Vec::new();
        for (table, state) in [
            ("pagerduty_incidents_history", "status"),
            ("datadog_monitors_history", "overall_state"),
        ] {
            got.extend(p.sql(
                engine,
                &format!(
                    "SELECT CAST(id AS TEXT), {state}, valid_from, valid_to FROM {table} \
                     ORDER BY 1, valid_from"
                ),
            ));
        }
        match &first {
            None => first = Some((engine.to_string(), got)),
            Some((other, want)) => {
                assert_eq!(
                    &got, want,
                    "sample history differs between {engine} and {other}"
                )
            }
        }
    }
}
