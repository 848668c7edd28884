//! `weir report`: output/report.html, and what the command says when a declaration is wrong.

use crate::harness::Project;

#[test]
fn html_report_declarations_are_checked_before_anything_is_written() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    p.write(
        "queries/zz_typo.sql",
        "-- A typo.\n-- chart: lines x=a y=b\nSELECT 1 AS a, 2 AS b",
    );
    p.write(
        "queries/zz_column.sql",
        "-- A column it lacks.\n-- chart: bar x=a y=b,total unit=\"s\"\nSELECT 1 AS a, 2 AS b",
    );
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_typo.sql:2:11: unknown chart kind `lines`
      hint: did you mean `line`?
    ");
    assert!(!p.path("output/report.html").exists());
    p.write(
        "queries/zz_typo.sql",
        "-- Fixed.\n-- chart: line x=a y=b\nSELECT 1 AS a, 'x' AS b",
    );
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_column.sql:2:23: report `zz_column` returns no column `total`
      hint: its columns are `a`, `b`
    error: queries/zz_typo.sql:2:22: row 1 of the report has `x` in `b`, which the chart draws: not a number
      hint: draw a column of numbers, or CAST it in the query
    note: output/report.html was not written
    2 problems
    ");
    assert!(!p.path("output/report.html").exists());
    // validate finds both the syntax and the missing column, with no data loaded.
    p.write(
        "queries/zz_typo.sql",
        "-- chart: pie x=a y=b\nSELECT 1 AS a",
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("queries/zz_column.sql:2:23: report `zz_column` returns no column `total`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("queries/zz_typo.sql:1:11: unknown chart kind `pie`"),
        "{}",
        out.stderr
    );
}

#[test]
fn html_report_names_reports_and_needs_a_database() {
    let p = Project::fixture("empty");
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: warehouse.sqlite: the database does not exist
      hint: make it with `weir run` (or `weir initialize` and `weir run-etl`), then `weir report`
    ");
    let out = p.weir(&["--in-memory", "report"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("an in-memory database is empty"),
        "{}",
        out.stderr
    );
    p.ok(&["initialize"]);
    let out = p.weir(&["report", "incident_montly"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `incident_monthly`?"),
        "{}",
        out.stderr
    );
    let out = p.ok(&["report", "root_cause_ranking"]);
    assert_eq!(out.stderr, "wrote output/report.html (1 report, 1 chart)\n");
    let html = p.read("output/report.html");
    // No rows: the chart says there is nothing to draw, and no time range is made up.
    assert!(html.contains("no values to draw"));
    assert!(html.contains("No report has a month or date column"));
}
