//! Spreadsheets as raw data: CSV dialects, XLSX cells as typed, `each_field`, complete sources,
//! and the developer survey source with its report.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use crate::harness::{Project, engines};

const TABLE: &str = "CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, flag BOOLEAN, note TEXT);";
const MAPPER: &str =
    "table: t\nkey: [id]\ncolumns:\n  id: id\n  n: n\n  flag: flag\n  note: note\n";

fn table_project() -> Project {
    let p = Project::empty();
    p.write("schemas/01.sql", TABLE);
    p.write("mappers/t.yaml", MAPPER);
    p
}

fn rows(p: &Project) -> Vec<String> {
    p.sql("sqlite", "SELECT id, n, flag, note FROM t ORDER BY id")
}

#[test]
fn csv_dialects_load_alike() {
    let p = table_project();
    // A byte order mark and `,`; `;` detected; a tab-separated file; a quoted line break and
    // quote; CRLF line ends; an empty cell is NULL; a blank row is nothing.
    p.write(
        "raw_data/t/a.csv",
        "\u{feff}id,n,flag,note\r\na,1,TRUE,\"two\r\nlines, \"\"quoted\"\"\"\r\nb,,false,\r\n,,,\r\n",
    );
    p.write("raw_data/t/b.csv", "id;n;flag;note\nc;3;true;x,y\n");
    p.write("raw_data/t/c.tsv", "id\tn\tflag\tnote\nd\t4\tFalse\ta;b\n");
    let out = p.ok(&["run-etl"]);
    assert!(out.stderr.contains("4 written"), "{}", out.stderr);
    assert_eq!(
        rows(&p),
        [
            "a|1|1|two\r\nlines, \"quoted\"",
            "b||0|",
            "c|3|1|x,y",
            "d|4|0|a;b"
        ]
    );
}

#[test]
fn a_declared_delimiter_wins_over_detection() {
    let p = table_project();
    p.write(
        "mappers/t.yaml",
        &format!("csv: {{delimiter: \"|\"}}\n{MAPPER}"),
    );
    p.write(
        "raw_data/t/a.csv",
        "id|n|flag|note\na|1|true|one, two; three\n",
    );
    p.ok(&["run-etl"]);
    assert_eq!(rows(&p), ["a|1|1|one, two; three"]);
    p.write(
        "mappers/t.yaml",
        &format!("csv: {{delimiter: \"ab\"}}\n{MAPPER}"),
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("mappers/t.yaml:1:18: `delimiter: \"ab\"` must be one character"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_cell_is_placed_at_its_line_and_column() {
    let p = table_project();
    // The bad cell is on line 4, after a cell that spans lines 2 and 3.
    p.write(
        "raw_data/t/a.csv",
        "id,n,flag,note\nx,1,true,\"a\nb\"\ny,many,true,z\n",
    );
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("csv_bad_cell", out.stderr);
    // An unknown header in a strict source points at the header cell.
    p.write("mappers/t.yaml", &format!("strict: true\n{MAPPER}"));
    p.write("raw_data/t/a.csv", "id,n,flag,note,nte\nx,1,true,a,b\n");
    let out = p.weir(&["run-etl"]);
    assert!(
        out.stderr.contains("raw_data/t/a.csv:1:16") && out.stderr.contains("unknown key `nte`"),
        "{}",
        out.stderr
    );
}

#[test]
fn header_mistakes_are_problems_of_the_file() {
    let p = table_project();
    p.write("raw_data/t/a.csv", "id,n,id\nx,1,y\n");
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("raw_data/t/a.csv:1:6")
            && out.stderr.contains("the header names `id` twice"),
        "{}",
        out.stderr
    );
    // A quote that never closes would swallow the rest of the file into one cell.
    p.write("raw_data/t/a.csv", "id,n\nx,1\ny,\"2\nz,3\n");
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("raw_data/t/a.csv:3:3") && out.stderr.contains("never comes"),
        "{}",
        out.stderr
    );
    assert_eq!(
        rows(&p),
        Vec::<String>::new(),
        "nothing of the file is loaded"
    );
    p.write("raw_data/t/a.csv", "id,n\nx,1,extra\n");
    let out = p.weir(&["run-etl"]);
    assert!(
        out.stderr.contains("raw_data/t/a.csv:2:5")
            && out.stderr.contains("the header has only 2 columns"),
        "{}",
        out.stderr
    );
}

/// A workbook with a notes sheet first and the roster second, typed cells in the roster.
fn write_workbook(path: &std::path::Path) {
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("Notes").unwrap();
    notes.write_string(0, 0, "not the data").unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Roster").unwrap();
    for (c, name) in ["name", "joined", "on_call", "shifts", "ratio", "day"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *name).unwrap();
    }
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let day = Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_string(1, 0, "ana").unwrap();
    let joined = ExcelDateTime::parse_from_str("2026-01-15T09:30:00").unwrap();
    sheet
        .write_datetime_with_format(1, 1, &joined, &when)
        .unwrap();
    sheet.write_boolean(1, 2, true).unwrap();
    sheet.write_number(1, 3, 3).unwrap();
    sheet.write_number(1, 4, 0.25).unwrap();
    let d = ExcelDateTime::from_ymd(2026, 2, 1).unwrap();
    sheet.write_datetime_with_format(1, 5, &d, &day).unwrap();
    sheet.write_string(2, 0, "ben").unwrap();
    sheet.write_boolean(2, 2, false).unwrap();
    sheet.write_string(2, 3, "two").unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    book.save(path).unwrap();
}

#[test]
fn xlsx_cells_load_as_the_sheet_typed_them() {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE roster (name TEXT PRIMARY KEY, joined TEXT, joined_text TEXT, on_call BOOLEAN, \
         shifts BIGINT, ratio DOUBLE, day DATE, row_number BIGINT);",
    );
    let mapper = "sheet: Roster\ntable: roster\nkey: [name]\ncolumns:\n  name: name\n  \
                  joined: {from: joined, type: timestamp}\n  joined_text: joined\n  on_call: on_call\n  \
                  shifts: shifts\n  ratio: ratio\n  day: day\n  row_number: $record\n";
    p.write("mappers/roster.yaml", mapper);
    write_workbook(&p.path("raw_data/roster/team.xlsx"));
    // `shifts` of ben is the text `two`: an error at its cell (row 3, column 4).
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("raw_data/roster/team.xlsx:3:4")
            && out.stderr.contains("found the text `two`"),
        "{}",
        out.stderr
    );
    p.write(
        "mappers/roster.yaml",
        &mapper.replace("shifts: shifts", "shifts: {from: shifts, or_null: true}"),
    );
    p.ok(&["run-etl"]);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT name, joined, joined_text, on_call, shifts, ratio, day, row_number FROM roster ORDER BY name"
        ),
        [
            "ana|2026-01-15T09:30:00.000Z|2026-01-15T09:30:00|1|3|0.25|2026-02-01|2",
            "ben|||0||||3"
        ]
    );
    p.write("mappers/roster.yaml", &mapper.replace("Roster", "Rooster"));
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("xlsx_unknown_sheet", out.stderr);
}

#[test]
fn each_field_columns_read_name_and_value() {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE w (id TEXT PRIMARY KEY);\nCREATE TABLE f (id TEXT, k TEXT, v TEXT, PRIMARY KEY (id, k));",
    );
    p.write(
        "mappers/w.yaml",
        "table: w\nkey: [id]\ncolumns:\n  id: id\nchildren:\n  - table: f\n    each_field: {except: [id]}\n    link: {id: id}\n    columns:\n      k: name\n      v: valu\n",
    );
    p.write("raw_data/w/b.csv", "id,q one,q two\nr2,yes,\n");
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("mappers/w.yaml:11:10")
            && out.stderr.contains(
                "column `v` reads `valu`, but the elements of `each_field` are `{name, value}`"
            ),
        "{}",
        out.stderr
    );
    p.write(
        "mappers/w.yaml",
        "table: w\nkey: [id]\ncolumns:\n  id: id\nchildren:\n  - table: f\n    each_field: {except: [id]}\n    link: {id: id}\n    columns:\n      k: name\n      v: value\n",
    );
    // JSON works as CSV does: every field but `id`, in the record's order; nulls give no row.
    p.write(
        "raw_data/w/a.json",
        r#"[{"id": "r1", "b": 2, "a": "x", "c": null}]"#,
    );
    p.write("raw_data/w/b.csv", "id,q one,q two\nr2,yes,\n");
    p.ok(&["run-etl"]);
    assert_eq!(
        p.sql("sqlite", "SELECT id, k, v FROM f ORDER BY id, k"),
        ["r1|a|x", "r1|b|2", "r2|q one|yes"]
    );
}

const SURVEY: &str = "raw_data/developer_survey/export.csv";

#[test]
fn the_survey_report_counts_scores_per_question_and_quarter() {
    let p = Project::fixture("survey_small");
    p.ok(&["run"]);
    // Worked by hand from tests/fixtures/survey_small: on-call 2026-Q1 is 4, 4, 4, 5 (mean 4.25,
    // half away from zero 4.3); `N/A` and free text have no score; 2026-04-01T00:00:00Z is Q2.
    assert_eq!(
        p.read("output/developer_survey_trends.csv"),
        "question,quarter,responses,mean_score,pct_4_or_5\r\n\
         Alerts are actionable (1-5),2026-Q1,2,2.5,0\r\n\
         Alerts are actionable (1-5),2026-Q2,3,3.3,66.7\r\n\
         Deploys are safe (1-5),2026-Q1,3,4,66.7\r\n\
         Deploys are safe (1-5),2026-Q2,2,3,50\r\n\
         On-call is manageable (1-5),2026-Q1,4,4.3,100\r\n\
         On-call is manageable (1-5),2026-Q2,3,1.7,0\r\n"
    );
    // The email address is stored nowhere: only its pseudonym, here computed independently with
    // `hmac.new(b"weir-sample-secret-for-the-shipped-data-only", b"a@example.com",
    // hashlib.sha256).hexdigest()`.
    let dump = p.dump("warehouse.sqlite");
    assert!(!dump.contains("@example.com"), "{dump}");
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT respondent FROM survey_responses WHERE submitted_at LIKE '2026-01-15%'"
        ),
        ["1e0e865fd4c09b4e4139bb2e00d0daae8413f329f15605d59525c0daca28e175"]
    );
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT submitted_at, response_row, team, COUNT(question) FROM survey_responses \
             LEFT JOIN survey_answers USING (submitted_at, response_row) \
             GROUP BY submitted_at, response_row, team ORDER BY submitted_at"
        ),
        [
            "2026-01-02T10:00:00.000Z|2|checkout|1",
            "2026-01-15T09:00:00.000Z|3|checkout|4",
            "2026-02-20T17:30:05.000Z|4|payments|3",
            "2026-03-31T23:59:59.000Z|5|payments|3",
            "2026-04-01T00:00:00.000Z|7|checkout|3",
            "2026-04-02T08:00:00.000Z|8|platform|4",
            "2026-06-30T12:00:00.000Z|9||3"
        ]
    );
}

#[test]
fn a_response_gone_from_a_complete_export_leaves_the_tables() {
    let p = Project::fixture("survey_small");
    p.ok(&["run-etl", "developer_survey"]);
    let count = |p: &Project| {
        p.sql(
            "sqlite",
            "SELECT (SELECT COUNT(*) FROM survey_responses) || '/' || (SELECT COUNT(*) FROM survey_answers)",
        )
    };
    assert_eq!(count(&p), ["7/21"]);
    let export = p.read(SURVEY);
    let kept: Vec<&str> = export
        .split_inclusive('\n')
        .filter(|l| !l.starts_with("6/30/2026"))
        .collect();
    p.write(SURVEY, &kept.concat());
    let out = p.ok(&["run-etl", "developer_survey"]);
    assert_eq!(count(&p), ["6/18"], "{}", out.stderr);
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn the_survey_is_identical_on_every_engine() {
    let mut first: Option<(String, Vec<(String, String)>)> = None;
    for engine in engines() {
        let p = Project::fixture("survey_small");
        p.ok(&["--engine", engine, "run"]);
        let reports = p.reports();
        match &first {
            None => first = Some((engine.to_string(), reports)),
            Some((other, expected)) => {
                assert_eq!(&reports, expected, "{engine} differs from {other}");
            }
        }
    }
}
