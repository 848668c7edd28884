//! `weir run-queries`: CSV a spreadsheet opens as is.

use crate::harness::Project;

#[test]
fn csv_quoting_nulls_and_numbers() {
    let p = Project::fixture("empty");
    p.write(
        "queries/zz_format.sql",
        "SELECT 'a,\"b\"' AS quoted, NULL AS empty, 1.5e20 AS big, 0.1 + 0.2 AS sum, 2.0 AS whole, \
         -0.0 AS negzero, 12345678901 AS int, 'line\nbreak' AS multi, 'é ✓' AS utf8",
    );
    p.ok(&["initialize"]);
    p.ok(&["run-queries", "zz_format"]);
    insta::assert_snapshot!(p.read("output/zz_format.csv").replace("\r\n", "⏎\n"), @r#"
    quoted,empty,big,sum,whole,negzero,int,multi,utf8⏎
    "a,""b""",,150000000000000000000,0.30000000000000004,2,0,12345678901,"line
    break",é ✓⏎
    "#);
    assert!(!p.path("output/.zz_format.csv.tmp").exists());
}

#[test]
fn csv_escapes_formulas_only_when_asked() {
    let p = Project::fixture("empty");
    p.write(
        "queries/zz_cells.sql",
        "SELECT '=1+1' AS t, '+1' AS plus, '-1' AS minus, '@SUM(A1)' AS at, 'a\tb' AS tab, \
         char(9) || 'x' AS lead_tab, char(13) || 'x' AS lead_cr, ' =x' AS spaced, -7 AS int, \
         -1.5 AS real, NULL AS missing, 1 AS \"=h\"",
    );
    // Line ends, tabs and carriage returns made visible.
    let shown = || {
        p.read("output/zz_cells.csv")
            .replace("\r\n", "⏎\n")
            .replace('\t', "→")
            .replace('\r', "␍")
    };
    p.ok(&["initialize"]);
    p.ok(&["run-queries", "zz_cells"]);
    insta::assert_snapshot!(shown(), @r#"
    t,plus,minus,at,tab,lead_tab,lead_cr,spaced,int,real,missing,=h⏎
    =1+1,+1,-1,@SUM(A1),a→b,→x,"␍x", =x,-7,-1.5,,1⏎
    "#);
    p.ok(&["run-queries", "zz_cells", "--escape-formulas"]);
    insta::assert_snapshot!(shown(), @r#"
    t,plus,minus,at,tab,lead_tab,lead_cr,spaced,int,real,missing,'=h⏎
    '=1+1,'+1,'-1,'@SUM(A1),a→b,'→x,"'␍x", =x,-7,-1.5,,1⏎
    "#);
}

#[test]
fn unknown_report_and_bad_sql() {
    let p = Project::fixture("empty");
    for engine in crate::harness::engines() {
        p.ok(&["--engine", engine, "initialize"]);
    }
    let out = p.weir(&["run-queries", "incident_montly"]);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/incident_montly.sql: no report `incident_montly`
      hint: did you mean `incident_monthly`?
    ");
    p.write(
        "queries/broken.sql",
        "SELECT nope FROM incidents ORDER BY 1",
    );
    let out = p.weir(&["run-queries", "broken"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/broken.sql:1:8: the query failed: no such column: nope
      hint: fix the SQL; `weir validate` checks every query
    ");
    for engine in crate::harness::engines() {
        p.write("queries/writer.sql", "DELETE FROM incidents");
        let out = p.weir(&["--engine", engine, "run-queries", "writer"]);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("must only read"), "{}", out.stderr);
        // A second statement would run while the report is prepared, on some engines.
        p.write(
            "queries/writer.sql",
            "SELECT 1; DELETE FROM incidents; SELECT 1",
        );
        let out = p.weir(&["--engine", engine, "run-queries", "writer"]);
        assert_eq!(out.code, 1, "{engine}");
        assert!(out.stderr.contains("one statement"), "{}", out.stderr);
        // Whether the second statement reads or writes, the engine's parser finds it.
        let out = p.weir(&["--engine", engine, "validate"]);
        assert!(
            out.stderr
                .contains("queries/writer.sql: the query does not compile: a report must only read, in one statement"),
            "{}",
            out.stderr
        );
        p.write("queries/writer.sql", "SELECT 1; SELECT 2");
        let out = p.weir(&["--engine", engine, "validate"]);
        assert!(
            out.stderr.contains(
                "queries/writer.sql: the query does not compile: a report holds one statement"
            ),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn engine_override_wins() {
    let p = Project::fixture("empty");
    p.write("queries/pick.sql", "SELECT 'portable' AS v");
    p.write("queries/pick.sqlite.sql", "SELECT 'sqlite' AS v");
    p.ok(&["initialize"]);
    p.ok(&["run-queries", "pick"]);
    assert_eq!(p.read("output/pick.csv"), "v\r\nsqlite\r\n");
}

#[test]
fn a_missing_database_is_named_and_never_made() {
    for engine in crate::harness::engines() {
        let p = Project::fixture("empty");
        let out = p.weir(&["--engine", engine, "run-queries"]);
        assert_eq!(out.code, 1, "{}", out.transcript());
        let file = format!("warehouse.{engine}");
        assert_eq!(
            out.stderr,
            format!(
                "error: {file}: the database does not exist\n  \
                 hint: make it with `weir initialize` and `weir run-etl`, or run everything with `weir run`\n"
            )
        );
        for made in [file.clone(), format!("{file}.lock"), "output".into()] {
            assert!(!p.path(&made).exists(), "{engine}: run-queries made {made}");
        }
        let out = p.weir(&["--engine", engine, "--db", "sub/x.db", "run-queries"]);
        assert_eq!(out.code, 1, "{}", out.transcript());
        assert!(!p.path("sub").exists());
    }
}

#[test]
fn an_in_memory_database_cannot_be_reported_on_alone() {
    for engine in crate::harness::engines() {
        let p = Project::shipped();
        let out = p.weir(&["--engine", engine, "--in-memory", "run-queries"]);
        assert_eq!(out.code, 1, "{}", out.transcript());
        assert_eq!(
            out.stderr,
            "error: an in-memory database is empty in run-queries: nothing loads into it, so every report \
             would be empty\n  hint: use `weir run --in-memory` to load and report in one go, or a file \
             database (`weir run-etl` first)\n"
        );
        p.write(".env", &format!("{}DB_MODE=MEMORY\n", p.read(".env")));
        let out = p.weir(&["--engine", engine, "run-queries"]);
        assert_eq!(out.code, 1, "{}", out.transcript());
        assert!(
            out.stderr.contains("an in-memory database is empty"),
            "{}",
            out.stderr
        );
        assert!(!p.path("output").exists(), "{engine}: reports were written");
        // run-etl loads into memory and says that nothing is kept.
        let out = p.ok(&["--engine", engine, "run-etl"]);
        assert!(
            out.stderr.starts_with(
                "note: the database is in memory (`--in-memory` or DB_MODE=MEMORY): what this run loads is not kept"
            ),
            "{}",
            out.stderr
        );
        assert!(!p.path(&format!("warehouse.{engine}")).exists());
        // Back to the sample's .env, without DB_MODE.
        p.sample_env();
        let out = p.ok(&["--engine", engine, "run-etl"]);
        assert!(
            !out.stderr.contains("note: the database is in memory"),
            "{}",
            out.stderr
        );
    }
}
