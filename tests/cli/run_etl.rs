//! `weir run-etl`: versions decide, children follow their record, all or nothing.

use crate::harness::{Project, engines};

/// A source with versions and children, small enough to read in the test.
fn versioned() -> Project {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, fetched_at TEXT, n BIGINT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
    );
    p.write(
        "mappers/tickets.yaml",
        "records: tickets
table: tickets
key: [id]
version: fetched_at
columns:
  id: id
  status: status
  n: n
  fetched_at: {from: $fetched_at, type: timestamp}
children:
  - table: ticket_tags
    each: tags
    link: {ticket_id: id}
    columns:
      tag: .
",
    );
    // One tag per ticket at most in these cases, so min() shows the set without an engine's
    // string aggregation.
    p.write("queries/tickets.sql", "SELECT t.id, t.status, t.fetched_at, min(g.tag) AS tags FROM tickets t LEFT JOIN ticket_tags g ON g.ticket_id = t.id GROUP BY t.id, t.status, t.fetched_at ORDER BY t.id");
    p
}

fn page(fetched_at: Option<&str>, tickets: &str) -> String {
    match fetched_at {
        Some(at) => format!(
            r#"{{"weir_page": 1, "source": "t", "endpoint": "/tickets", "fetched_at": "{at}", "context": {{}}, "body": {{"tickets": {tickets}}}}}"#
        ),
        None => format!(r#"{{"tickets": {tickets}}}"#),
    }
}

#[test]
fn newer_version_wins_whatever_the_order() {
    for engine in engines() {
        let p = versioned();
        // The newer page sorts first, so a last-file-wins loader would keep the older copy.
        p.write(
            "raw_data/tickets/a.json",
            &page(
                Some("2026-11-02T00:00:00+01:00"),
                r#"[{"id": "T1", "status": "resolved", "tags": ["db"]}]"#,
            ),
        );
        p.write("raw_data/tickets/b.json", &page(Some("2026-11-01T00:00:00Z"), r#"[{"id": "T1", "status": "open", "tags": ["db", "sev1"]}, {"id": "T2", "status": "open", "tags": []}]"#));
        // A bare body has no version: older than any versioned copy.
        p.write("raw_data/tickets/c.json", &page(None, r#"[{"id": "T1", "status": "bare", "tags": ["x"]}, {"id": "T3", "status": "bare", "tags": ["x"]}]"#));
        let out = p.ok(&["--engine", engine, "run"]);
        // The same expectation on every engine.
        insta::allow_duplicates! {
        insta::assert_snapshot!(out.stderr, @r"
        loaded tickets                         3 files       5 records       3 written      2 superseded
        wrote output/tickets.csv (3 rows)
        ");
        insta::assert_snapshot!(p.read("output/tickets.csv"), @r"
        id,status,fetched_at,tags
        T1,resolved,2026-11-01T23:00:00.000Z,db
        T2,open,2026-11-01T00:00:00.000Z,
        T3,bare,,x
        ");
        }
        let before = p.dump_engine(engine, &[]);
        p.ok(&["--engine", engine, "run-etl"]);
        assert_eq!(
            p.dump_engine(engine, &[]),
            before,
            "{engine}: a second load changed the database"
        );
    }
}

#[test]
fn equal_versions_and_children_follow_the_winner() {
    for engine in engines() {
        let p = versioned();
        // Two copies with the same version: the later one loaded wins, as with one-by-one upserts;
        // its children replace the stored set, including with an empty list.
        p.write("raw_data/tickets/a.json", &page(Some("2026-11-01T00:00:00Z"), r#"[{"id": "T1", "status": "first", "tags": ["a", "b"]}, {"id": "T1", "status": "second", "tags": ["c", "c"]}]"#));
        p.ok(&["--engine", engine, "run"]);
        assert_eq!(
            p.read("output/tickets.csv"),
            "id,status,fetched_at,tags\r\nT1,second,2026-11-01T00:00:00.000Z,c\r\n",
            "{engine}"
        );
        p.write(
            "raw_data/tickets/b.json",
            &page(
                Some("2026-11-03T00:00:00Z"),
                r#"[{"id": "T1", "status": "closed", "tags": []}]"#,
            ),
        );
        p.ok(&["--engine", engine, "run"]);
        assert_eq!(
            p.read("output/tickets.csv"),
            "id,status,fetched_at,tags\r\nT1,closed,2026-11-03T00:00:00.000Z,\r\n",
            "{engine}"
        );
    }
}

#[test]
fn a_bad_record_loads_nothing() {
    for engine in engines() {
        let p = versioned();
        p.write(
            "raw_data/tickets/a.json",
            &page(
                Some("2026-11-01T00:00:00Z"),
                r#"[{"id": "T1", "status": "open", "n": 1, "tags": ["a"]}]"#,
            ),
        );
        p.ok(&["--engine", engine, "run-etl"]);
        let before = p.dump_engine(engine, &[]);
        // A good newer page and a bad one: neither may be stored.
        p.write(
            "raw_data/tickets/b.json",
            &page(
                Some("2026-11-02T00:00:00Z"),
                r#"[{"id": "T1", "status": "resolved", "n": 2, "tags": []}]"#,
            ),
        );
        p.write(
            "raw_data/tickets/c.json",
            &page(
                Some("2026-11-02T00:00:00Z"),
                r#"[{"id": "T2", "status": {"name": "open"}, "n": "two", "tags": "a"}]"#,
            ),
        );
        let out = p.weir(&["--engine", engine, "run-etl"]);
        insta::allow_duplicates! {
        insta::assert_snapshot!(out.transcript(), @r"
        exit: 1
        --- stdout
        --- stderr
        error: raw_data/tickets/c.json: body.tickets[0].status: expected text, a number or a boolean, found an object; to keep it whole, give the column `type: json`
          hint: fix the value, or change how column `status` reads it at mappers/tickets.yaml:7:11
        error: raw_data/tickets/c.json: body.tickets[0].n: expected a whole number (or `NaN`), found the text `two`
          hint: fix the value, or change how column `n` reads it at mappers/tickets.yaml:8:6
        error: raw_data/tickets/c.json: body.tickets[0].tags: expected a list, found text
          hint: fix the value, or the `each: tags` in mappers/tickets.yaml
        note: nothing was loaded; the database is unchanged
        note: `--on-error quarantine` would set the bad records aside and load the rest
        3 problems
        ");
        }
        assert_eq!(
            p.dump_engine(engine, &[]),
            before,
            "{engine}: a failed load changed the database"
        );
    }
}

#[test]
fn jsonl_lines_and_wrong_shapes_are_located() {
    let p = versioned();
    p.write(
        "raw_data/tickets/a.jsonl",
        &format!(
            "{}\n\n{}\n{{\"tickets\": [{{\"id\": \"T3\"}}]\n",
            page(
                Some("2026-11-01T00:00:00Z"),
                r#"[{"id": "T1", "status": "open"}]"#
            ),
            page(
                Some("2026-11-01T00:00:00Z"),
                r#"[{"id": null, "status": "open"}]"#
            ),
        ),
    );
    p.write("raw_data/tickets/b.json", r#"{"items": []}"#);
    let out = p.weir(&["run-etl"]);
    insta::assert_snapshot!(out.stderr);
    assert_eq!(out.code, 1);
}

#[test]
fn directory_path_names_the_source() {
    let p = versioned();
    p.write("raw_data/tickets/a.json", &page(None, r#"[{"id": "T1"}]"#));
    p.write("raw_data/other/a.json", "[]");
    // Without DIRECTORY_PATH the folder with no mapper is an error...
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("raw_data/other/ has no mapper"),
        "{}",
        out.stderr
    );
    // ...with it, only that source loads.
    let out = p.weir_env(&["run-etl"], &[("DIRECTORY_PATH", "raw_data/tickets")]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = p.weir(&["run-etl", "tickts"]);
    insta::assert_snapshot!(out.stderr, @r"
    error: raw_data/tickts/: no source `tickts`
      hint: did you mean `tickets`?
    ");
}

#[test]
fn a_renamed_incident_leaves_no_stale_row() {
    // The incidents mapper is `complete`: its files are the whole record, so a renamed or removed
    // incident is removed from the database, children and all.
    for engine in engines() {
        let p = Project::fixture("empty");
        let one = "- incident_name: Checkout down\n  incident_date: 2026-05-01\n  postmortem_link: null\n  affected_entities: [{entity_name: Storefront, products: [checkout]}]\n  root_causes: [deployment]\n  stats: {}\n  severity_level: SEV2\n";
        p.write("raw_data/incidents/a.yaml", one);
        p.write(
            "raw_data/incidents/b.yaml",
            &one.replace("Checkout down", "Search slow")
                .replace("checkout", "search"),
        );
        p.ok(&["--engine", engine, "run-etl"]);
        p.write(
            "raw_data/incidents/a.yaml",
            &one.replace("Checkout down", "Checkout outage"),
        );
        let out = p.ok(&["--engine", engine, "run-etl"]);
        assert!(
            out.stderr
                .contains("2 written      0 superseded      1 removed"),
            "{}",
            out.stderr
        );
        let dump = p.dump_engine(engine, &[]);
        assert!(
            !dump.contains("\"Checkout down\""),
            "{engine}: the old name is still stored:\n{dump}"
        );
        assert!(
            dump.contains("\"Checkout outage\"") && dump.contains("\"Search slow\""),
            "{engine}:\n{dump}"
        );
        assert_eq!(
            dump.matches("\"deployment\"").count(),
            2,
            "{engine}: root causes of the old name remain"
        );
    }
}

/// A row the database refuses (a CHECK the mapper cannot see) stops the load in either mode,
/// named where the engine can tell: the record on SQLite, which writes record by record; the
/// source on DuckDB, which merges held rows together. Nothing of the run is stored.
#[test]
fn a_row_the_database_refuses_stops_the_load() {
    for engine in engines() {
        let p = versioned();
        p.write(
            "schemas/01.sql",
            "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, fetched_at TEXT, n BIGINT CHECK (n >= 0));
             CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
        );
        p.write(
            "raw_data/tickets/a.json",
            &page(
                Some("2026-11-01T00:00:00Z"),
                r#"[{"id": "T1", "status": "open", "n": 1, "tags": ["a"]}]"#,
            ),
        );
        p.ok(&["--engine", engine, "run-etl"]);
        let before = p.dump_engine(engine, &[]);
        p.write(
            "raw_data/tickets/b.json",
            &page(
                Some("2026-11-02T00:00:00Z"),
                r#"[{"id": "T1", "status": "resolved", "n": 2, "tags": []}, {"id": "T2", "status": "open", "n": -1, "tags": ["b"]}]"#,
            ),
        );
        for mode in ["fail", "quarantine"] {
            let out = p.weir(&["--engine", engine, "run-etl", "--on-error", mode]);
            assert_eq!(out.code, 1, "{engine} {mode}: {}", out.stderr);
            let at = if engine == "sqlite" {
                "error: raw_data/tickets/b.json (record /body/tickets/1): the database refused it: "
            } else {
                "error: raw_data/tickets/: the database refused rows of this source: cannot merge the rows of `tickets` held since the last merge: "
            };
            assert!(
                out.stderr.starts_with(at),
                "{engine} {mode}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains("CHECK"),
                "{engine} {mode}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains("hint: fix the record"),
                "{engine} {mode}: {}",
                out.stderr
            );
            assert!(
                out.stderr
                    .contains("nothing was loaded; the database is unchanged"),
                "{engine} {mode}: {}",
                out.stderr
            );
            assert_eq!(p.dump_engine(engine, &[]), before, "{engine} {mode}");
        }
    }
}
