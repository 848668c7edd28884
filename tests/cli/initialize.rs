//! `weir initialize`: safe to re-run; says which table and column differ, and how to rebuild.

use crate::harness::Project;

#[test]
fn rerun_is_safe_and_drift_is_explained() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    p.ok(&["initialize"]);
    let before = p.dump("warehouse.sqlite");
    assert!(before.contains("## pagerduty_incidents"));

    // The schema gains a column and changes a type: the database on disk no longer matches.
    let sql = p.read("schemas/10_incidents.sql");
    let changed = sql
        .replacen(
            "severity_level TEXT,",
            "severity_level TEXT,\n    owner TEXT,",
            1,
        )
        .replacen("source_record BIGINT", "source_record TEXT", 1);
    p.write("schemas/10_incidents.sql", &changed);
    let out = p.weir(&["initialize"]);
    insta::assert_snapshot!(out.transcript());
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "loading into a drifted table must be refused");

    p.ok(&["initialize", "--recreate"]);
    p.ok(&["initialize"]);
}

#[test]
fn bad_schema_file_is_named() {
    let p = Project::fixture("empty");
    p.write(
        "schemas/99_extra.sql",
        "CREATE TABLE x (a TEXT PRIMARY KEY;\n",
    );
    let out = p.weir(&["initialize"]);
    insta::assert_snapshot!(out.stderr, @r#"error: schemas/99_extra.sql:1:35: the database refused the schema: near ";": syntax error"#);
    assert!(
        !p.path("warehouse.sqlite").exists()
            || !p.dump("warehouse.sqlite").contains("## incidents")
    );
}

#[test]
fn a_without_rowid_table_is_refused_with_the_fix() {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;",
    );
    let out = p.weir(&["initialize"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("table `t` is WITHOUT ROWID") && out.stderr.contains("schemas/01.sql"),
        "{}",
        out.stderr
    );
}
