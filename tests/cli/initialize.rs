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

/// CHECK, DEFAULT and NOT NULL changes are drift as much as a column's type, on every engine:
/// DuckDB's tables lose their primary key to weir (which keeps key columns NOT NULL itself), so
/// a key column must not count as changed.
#[test]
fn check_default_and_not_null_changes_are_drift() {
    let schema = "CREATE TABLE t (\n  id TEXT PRIMARY KEY,\n  n BIGINT CHECK (n > 0),\n  d TEXT DEFAULT 'x',\n  \
                  m TEXT,\n  CHECK (length(m) < 9)\n);\n";
    let changes = [
        ("n > 0", "n > 1", "CHECK"),
        ("DEFAULT 'x'", "DEFAULT 'y'", "DEFAULT"),
        ("m TEXT,", "m TEXT NOT NULL,", "NOT NULL"),
        ("length(m) < 9", "length(m) < 8", "CHECK"),
        (
            "  CHECK (length(m) < 9)\n",
            "  CHECK (length(m) < 9),\n  CHECK (d <> 'z')\n",
            "CHECK",
        ),
    ];
    for engine in crate::harness::engines() {
        for (from, to, what) in changes {
            let p = Project::empty();
            p.write("schemas/01.sql", schema);
            p.ok(&["--engine", engine, "initialize"]);
            // Blanks and comments are no change.
            p.write(
                "schemas/01.sql",
                &schema
                    .replace("n > 0", "n  >  0 /* positive */")
                    .replace(",\n", " ,\n"),
            );
            p.ok(&["--engine", engine, "initialize"]);
            p.write("schemas/01.sql", &schema.replacen(from, to, 1));
            let out = p.weir(&["--engine", engine, "initialize"]);
            assert_eq!(out.code, 1, "{engine} {to}: {}", out.transcript());
            let first = out.stderr.lines().next().unwrap_or_default();
            assert!(
                first.starts_with(
                    "error: schemas/01.sql: table `t` in the database differs from the schema: "
                ) && first.contains(what),
                "{engine} {to}: {}",
                out.stderr
            );
            assert!(
                out.stderr.contains("weir initialize --recreate"),
                "{}",
                out.stderr
            );
            let out = p.weir(&["--engine", engine, "run-etl"]);
            assert_eq!(out.code, 1, "{engine} {to}: {}", out.transcript());
            p.ok(&["--engine", engine, "initialize", "--recreate"]);
            p.ok(&["--engine", engine, "initialize"]);
        }
        // Each names its column.
        let p = Project::empty();
        p.write("schemas/01.sql", schema);
        p.ok(&["--engine", engine, "initialize"]);
        p.write(
            "schemas/01.sql",
            &schema.replacen("DEFAULT 'x'", "DEFAULT 'y'", 1).replacen(
                "m TEXT,",
                "m TEXT NOT NULL,",
                1,
            ),
        );
        let out = p.weir(&["--engine", engine, "initialize"]);
        assert!(
            out.stderr
                .contains("column `d` has DEFAULT `'x'` on disk but DEFAULT `'y'` in the schema")
                && out
                    .stderr
                    .contains("column `m` is NOT NULL in the schema but not on disk"),
            "{engine}: {}",
            out.stderr
        );
    }
}

/// `CREATE INDEX` in schemas/: SQLite builds it with its table, `initialize` adds, changes and
/// drops indexes on tables that stay without losing a row, `--recreate` builds them again; DuckDB
/// checks the statement and keeps no index; a bad one is named at its file, line and column.
#[test]
fn indexes_in_schemas_are_built_and_kept_in_step() {
    const TABLE: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, kind TEXT, seen TEXT, v TEXT);\n";
    let mapper =
        "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  kind: kind\n  seen: seen\n  v: v\n";
    let indexes = |p: &Project| {
        p.sql(
            "sqlite",
            "SELECT name || ': ' || sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
    };
    let rows = |p: &Project| p.sql("sqlite", "SELECT count(*) FROM t");
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        &format!("{TABLE}CREATE INDEX t_by_kind ON t (kind);\n"),
    );
    p.write("mappers/t.yaml", mapper);
    p.write(
        "raw_data/t/1.jsonl",
        "{\"id\": \"a\", \"kind\": \"x\", \"seen\": \"1\", \"v\": \"1\"}\n{\"id\": \"b\", \"kind\": \"y\", \"seen\": \"2\", \"v\": \"1\"}\n",
    );
    p.ok(&["initialize"]);
    p.ok(&["run-etl"]);
    assert_eq!(
        indexes(&p),
        ["t_by_kind: CREATE INDEX t_by_kind ON t (kind)"]
    );
    assert_eq!(rows(&p), ["2"]);
    // Added and changed: applied to the loaded table, its rows kept, nothing to reload.
    p.write(
        "schemas/01.sql",
        &format!(
            "{TABLE}CREATE INDEX t_by_kind ON t (kind, seen);\nCREATE INDEX t_by_at ON t (seen);\n"
        ),
    );
    p.ok(&["initialize"]);
    assert_eq!(
        indexes(&p),
        [
            "t_by_at: CREATE INDEX t_by_at ON t (seen)",
            "t_by_kind: CREATE INDEX t_by_kind ON t (kind, seen)"
        ]
    );
    assert_eq!(rows(&p), ["2"]);
    let again = p.ok(&["run-etl"]);
    assert!(!again.stderr.contains("loaded t"), "{}", again.stderr);
    // Removed: dropped.
    p.write(
        "schemas/01.sql",
        &format!("{TABLE}CREATE INDEX t_by_at ON t (seen);\n"),
    );
    p.ok(&["initialize"]);
    assert_eq!(indexes(&p), ["t_by_at: CREATE INDEX t_by_at ON t (seen)"]);
    p.ok(&["initialize", "--recreate"]);
    assert_eq!(indexes(&p), ["t_by_at: CREATE INDEX t_by_at ON t (seen)"]);
    p.ok(&["run-etl"]);
    assert_eq!(rows(&p), ["2"]);

    // DuckDB: the schema works there too, its index checked and not kept.
    if crate::harness::engines().contains(&"duckdb") {
        p.ok(&["--engine", "duckdb", "initialize"]);
        p.ok(&["--engine", "duckdb", "run-etl"]);
        p.ok(&["--engine", "duckdb", "initialize"]);
        assert_eq!(p.sql("duckdb", "SELECT count(*) FROM t"), ["2"]);
    }

    // A bad index is the schema's problem, named where it is, on both engines.
    p.write(
        "schemas/01.sql",
        &format!("{TABLE}CREATE INDEX t_by_what ON t (wat);\n"),
    );
    for engine in crate::harness::engines() {
        let out = p.weir(&["--engine", engine, "initialize"]);
        assert_eq!(out.code, 1, "{engine}: {}", out.transcript());
        assert!(
            out.stderr.contains("schemas/01.sql") && out.stderr.contains("wat"),
            "{engine}: {}",
            out.stderr
        );
    }
}
