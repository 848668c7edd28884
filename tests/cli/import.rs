//! `weir import`: the manifest is checked before anything is written, and every difference names
//! the file and what differs; rows already there are replaced in one transaction.

use crate::export::{fresh_like, tickets};
use crate::harness::{Project, engines};

/// The tickets project loaded and exported to `out/`, and a fresh project to import into.
fn exported() -> (Project, Project) {
    let a = tickets();
    a.ok(&["run"]);
    a.ok(&["export", "--to", "out"]);
    let b = fresh_like(&a);
    (a, b)
}

fn import(a: &Project, b: &Project) -> crate::harness::Output {
    b.weir(&["import", a.path("out").to_str().unwrap()])
}

/// The transcript with the export folder's path as `[EXPORT]`.
fn shown(a: &Project, transcript: String) -> String {
    transcript.replace(a.path("out").to_str().unwrap(), "[EXPORT]")
}

#[test]
fn a_changed_file_is_refused_by_name_and_nothing_is_written() {
    let (a, b) = exported();
    let csv = a
        .read("out/tickets.csv")
        .replace("open, urgent", "open, URGENT");
    a.write("out/tickets.csv", &csv);
    let out = import(&a, &b);
    insta::assert_snapshot!("tampered", shown(&a, out.transcript()));
    assert_eq!(out.code, 1);
    assert!(!b.path("warehouse.sqlite").exists(), "a database was made");
}

#[test]
fn a_missing_file_and_a_cut_file_are_named() {
    let (a, b) = exported();
    std::fs::remove_file(a.path("out/ticket_tags.csv")).unwrap();
    let csv = a.read("out/tickets.csv");
    a.write("out/tickets.csv", &csv[..csv.len() - 10]);
    let out = import(&a, &b);
    insta::assert_snapshot!("missing_and_cut", shown(&a, out.transcript()));
    assert!(!b.path("warehouse.sqlite").exists());
}

#[test]
fn a_schema_that_differs_is_named_by_table_and_column() {
    let (a, b) = exported();
    b.write(
        "schemas/01.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, n TEXT, score DOUBLE, open BOOLEAN, owner TEXT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (tag));",
    );
    let out = import(&a, &b);
    insta::assert_snapshot!("schema_differs", shown(&a, out.transcript()));
    assert!(!b.path("warehouse.sqlite").exists());
    b.write(
        "schemas/01.sql",
        "CREATE TABLE tickets_v2 (id TEXT PRIMARY KEY);",
    );
    let out = import(&a, &b);
    insta::assert_snapshot!("table_unknown", shown(&a, out.transcript()));
}

#[test]
fn a_manifest_that_lies_or_is_absent_is_refused() {
    let (a, b) = exported();
    // The file is as exported; the manifest claims another row count.
    let manifest = a
        .read("out/manifest.json")
        .replacen("\"rows\": 3", "\"rows\": 4", 1);
    a.write("out/manifest.json", &manifest);
    let out = import(&a, &b);
    insta::assert_snapshot!(shown(&a, out.transcript()), @r"
    exit: 1
    --- stdout
    --- stderr
    error: [EXPORT]/tickets.csv: the file holds 3 rows, the manifest says 4
      hint: the manifest was changed after the export: export again
    ");
    // Nothing of the transaction stays: the tables were made (as `weir initialize` makes them),
    // and are empty.
    assert_eq!(b.sql("sqlite", "SELECT count(*) FROM tickets"), ["0"]);
    assert_eq!(b.sql("sqlite", "SELECT count(*) FROM ticket_tags"), ["0"]);

    a.write(
        "out/manifest.json",
        "{\"format\": \"weir-export\",\n \"version\": 1,\n \"tables\": 3}",
    );
    let out = import(&a, &b);
    insta::assert_snapshot!(shown(&a, out.transcript()), @r"
    exit: 1
    --- stdout
    --- stderr
    error: [EXPORT]/manifest.json:3:12: the manifest is not a weir export's: invalid type: integer `3`, expected a sequence
      hint: export again with `weir export`; the manifest must be as it wrote it
    ");
    std::fs::remove_file(a.path("out/manifest.json")).unwrap();
    let out = import(&a, &b);
    insta::assert_snapshot!(shown(&a, out.transcript()), @r"
    exit: 1
    --- stdout
    --- stderr
    error: [EXPORT]/manifest.json: the export has no manifest
      hint: name a folder that `weir export --to DIR` wrote; an import checks every file against its manifest
    ");
    let out = b.weir(&["import", "nowhere"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: nowhere: the export folder does not exist
      hint: name a folder that `weir export --to DIR` wrote
    ");
}

#[test]
fn a_file_name_outside_the_folder_is_refused() {
    let (a, b) = exported();
    let manifest = a
        .read("out/manifest.json")
        .replace("\"tickets.csv\"", "\"../secret.csv\"");
    a.write("out/manifest.json", &manifest);
    let out = import(&a, &b);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("names the file `../secret.csv`, which is not a file of its own"),
        "{}",
        out.stderr
    );
}

#[test]
fn rows_already_there_are_replaced() {
    for engine in engines() {
        let (a, b) = exported();
        // The target has rows of its own, some under the same keys.
        b.write(
            "raw_data/tickets/b.json",
            r#"{"tickets": [{"id": "T1", "status": "theirs", "tags": ["mine"]}, {"id": "T9", "status": "only here", "tags": []}]}"#,
        );
        b.ok(&["--engine", engine, "run-etl"]);
        b.ok(&[
            "--engine",
            engine,
            "import",
            a.path("out").to_str().unwrap(),
        ]);
        assert_eq!(
            b.sql(engine, "SELECT id, status FROM tickets ORDER BY id"),
            ["T1|open, urgent", "T2|", "T3|"],
            "{engine}"
        );
        assert_eq!(
            b.sql(
                engine,
                "SELECT ticket_id, tag FROM ticket_tags ORDER BY 1, 2"
            ),
            ["T1|db", "T1|sev1", "T3|x"],
            "{engine}"
        );
        // Empty text stays empty text, NULL stays NULL.
        assert_eq!(
            b.sql(
                engine,
                "SELECT id, status IS NULL, note IS NULL FROM tickets ORDER BY id"
            ),
            ["T1|0|0", "T2|0|0", "T3|1|1"],
            "{engine}"
        );
        // The ledger forgot b's raw files: the next run-etl loads them again on top.
        let out = b.ok(&["--engine", engine, "run-etl"]);
        assert!(out.stderr.contains("2 written"), "{}", out.stderr);
        // Importing again gives the export's rows again.
        b.ok(&[
            "--engine",
            engine,
            "import",
            a.path("out").to_str().unwrap(),
        ]);
        assert_eq!(
            b.sql(engine, "SELECT count(*) FROM tickets"),
            ["3"],
            "{engine}"
        );
    }
}
