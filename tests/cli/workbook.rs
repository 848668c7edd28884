//! `--format xlsx`: one workbook, read back by an independent reader (calamine, and the zip's XML
//! for what calamine does not read) and checked cell by cell against the CSV of the same run.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader, Xlsx};

use crate::harness::{Project, engines};

/// A report of every kind of cell, the formula-looking texts among them.
const CELLS: &str = "-- Every kind of cell: texts a spreadsheet would run as formulas, dates and
-- times in the forms weir stores, and numbers.
-- chart: bar x=t y=an_int
SELECT '=1+1' AS t, '+1' AS plus, '-1' AS minus, '@SUM(A1)' AS at_sign, '2026-01-31' AS d,
       '2026-01-31T12:30:45Z' AS ts, '2026-01-31T12:30:45.123Z' AS ms, NULL AS missing,
       1.5 AS a_real, -7 AS an_int, 1234567890123456789 AS big, '2026-02-30' AS not_a_date, '' AS blank
";

/// A report name past Excel's 31 characters, and a second one that cuts to the same name.
const LONG: &str = "zz_incident_times_from_pagerduty_and_postmortems";
const LONG_TOO: &str = "zz_incident_times_from_pagerduty_and_postmortems_again";
const TIMES: &str = "-- When incidents happened, by the postmortems and by PagerDuty.
SELECT i.incident_name, i.incident_date, p.created_at
FROM incidents i LEFT JOIN pagerduty_incidents p ON p.title = i.incident_name
ORDER BY i.incident_date, i.incident_name, p.created_at
";

fn project() -> Project {
    let p = Project::shipped();
    p.write("queries/zz_cells.sql", CELLS);
    p.write(&format!("queries/{LONG}.sql"), TIMES);
    p.write(
        &format!("queries/{LONG_TOO}.sql"),
        "-- PagerDuty's incidents, by when they were made.\nSELECT created_at FROM pagerduty_incidents ORDER BY 1",
    );
    p
}

/// The sheet each report should get, in report order.
fn expected_sheets(p: &Project) -> Vec<(String, String)> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("queries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter_map(|n| n.strip_suffix(".sql").map(str::to_string))
        .filter(|n| !n.contains('.'))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let sheet = match n.as_str() {
                LONG => "zz_incident_times_from_pagerdut".to_string(),
                LONG_TOO => "zz_incident_times_from_page (2)".to_string(),
                _ => n.clone(),
            };
            (n, sheet)
        })
        .collect()
}

/// What the query file's opening comment says, as the About sheet should show it.
fn description(sql: &str) -> String {
    sql.lines()
        .map_while(|l| l.strip_prefix("--"))
        .filter(|l| !l.trim_start().starts_with("chart:"))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

fn open(path: &Path) -> Xlsx<std::io::BufReader<std::fs::File>> {
    calamine::open_workbook(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A CSV number as weir writes one: digits, maybe a sign and a fraction.
fn number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty()
        && digits.split('.').count() <= 2
        && digits
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    plain.then(|| text.parse().unwrap())
}

/// The text of a date cell, in the form of the CSV it came from.
fn date_text(d: &calamine::ExcelDateTime, csv: &str) -> String {
    let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
    match csv.len() {
        10 => format!("{y:04}-{mo:02}-{day:02}"),
        20 => format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}Z"),
        _ => format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"),
    }
}

fn is_date_text(t: &str) -> bool {
    let b = t.as_bytes();
    let shape = match b.len() {
        10 => "dddd-dd-dd",
        20 => "dddd-dd-ddTdd:dd:ddZ",
        24 => "dddd-dd-ddTdd:dd:dd.dddZ",
        _ => return false,
    };
    shape.bytes().zip(b).all(|(s, c)| {
        if s == b'd' {
            c.is_ascii_digit()
        } else {
            s == *c
        }
    }) && &t[..4] >= "1900"
        && jiff::civil::Date::strptime("%Y-%m-%d", &t[..10]).is_ok()
}

/// Checks one cell against its CSV text, and its type against the JSON export of the same
/// report (which tells numbers from text, unlike CSV); returns the cell as text, for comparing
/// engines.
fn check_cell(cell: Option<&Data>, csv: &str, json: &serde_json::Value, at: &str) -> String {
    use serde_json::Value as J;
    let cell = cell.unwrap_or(&Data::Empty);
    match (json, cell) {
        (J::Null, Data::Empty) => assert_eq!(csv, "", "{at}"),
        (J::Number(n), Data::Float(f)) => {
            assert_eq!(number(csv), Some(*f), "{at}: {f} for `{csv}`");
            assert_eq!(n.as_f64(), Some(*f), "{at}");
        }
        // Beyond 15 digits Excel would change the integer: its digits, as text.
        (J::Number(n), Data::String(s))
            if n.as_i64()
                .is_some_and(|i| i.unsigned_abs() > 999_999_999_999_999) =>
        {
            assert_eq!(s, csv, "{at}");
        }
        (J::String(t), Data::Empty) if t.is_empty() => assert_eq!(csv, "", "{at}"),
        (J::String(t), Data::DateTime(d)) if is_date_text(t) => {
            assert_eq!(date_text(d, csv), csv, "{at}");
        }
        (J::String(t), Data::String(s)) if !is_date_text(t) => {
            assert_eq!(s, csv, "{at}");
            assert_eq!(s, t, "{at}");
        }
        (json, cell) => panic!("{at}: the cell {cell:?} for {json} (`{csv}` in the CSV)"),
    }
    format!("{cell:?}")
}

/// The XML of the `n`th sheet (from 1), in the order rust_xlsxwriter names them.
fn sheet_xml(path: &Path, n: usize) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{n}.xml"))
        .unwrap()
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Checks the header of a sheet of `columns` columns and `rows` rows below it: bold, frozen,
/// filtered, widths capped.
fn check_header(
    book: &mut Xlsx<std::io::BufReader<std::fs::File>>,
    path: &Path,
    index: usize,
    name: &str,
    columns: usize,
    rows: usize,
) {
    let styles = book.worksheet_style(name).unwrap();
    for c in 0..columns {
        let bold = styles
            .get((0, c as u32))
            .and_then(|s| s.font.as_ref())
            .is_some_and(|f| f.is_bold());
        assert!(bold, "{name}: header column {c} is not bold");
    }
    if rows > 0 {
        let bold = styles
            .get((1, 0))
            .and_then(|s| s.font.as_ref())
            .is_some_and(|f| f.is_bold());
        assert!(!bold, "{name}: a data cell is bold");
    }
    let xml = sheet_xml(path, index + 1);
    assert!(
        xml.contains(
            r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
        ),
        "{name}: the header is not frozen: {xml:.600}"
    );
    let col = column_letters(columns - 1);
    assert!(
        xml.contains(&format!(r#"<autoFilter ref="A1:{col}{}"/>"#, rows + 1)),
        "{name}: no filter over A1:{col}{}",
        rows + 1
    );
    for width in xml.split(" width=\"").skip(1) {
        let w: f64 = width.split('"').next().unwrap().parse().unwrap();
        assert!((6.0..=61.0).contains(&w), "{name}: column width {w}");
    }
}

fn column_letters(mut i: usize) -> String {
    let mut out = String::new();
    loop {
        out.insert(0, (b'A' + (i % 26) as u8) as char);
        if i < 26 {
            return out;
        }
        i = i / 26 - 1;
    }
}

/// Every cell of every report sheet, as calamine reads them, after checking them against the CSV.
fn check_workbook(
    p: &Project,
    engine: &str,
    started: jiff::Timestamp,
) -> BTreeMap<String, Vec<String>> {
    let path = p.path("output/reports.xlsx");
    let mut book = open(&path);
    let expected = expected_sheets(p);
    let mut names = vec!["About".to_string()];
    names.extend(expected.iter().map(|(_, s)| s.clone()));
    assert_eq!(book.sheet_names(), names, "{engine}");

    let mut cells = BTreeMap::new();
    let mut row_counts = Vec::new();
    for (i, (report, sheet)) in expected.iter().enumerate() {
        let csv_text = p.read(&format!("output/{report}.csv"));
        let mut csv = csv::Reader::from_reader(csv_text.as_bytes());
        let header: Vec<String> = csv.headers().unwrap().iter().map(str::to_string).collect();
        let records: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        let json: serde_json::Value =
            serde_json::from_str(&p.read(&format!("output/{report}.json"))).unwrap();
        let json = json.as_array().unwrap();
        assert_eq!(json.len(), records.len(), "{engine} {report}: JSON rows");
        let range = book.worksheet_range(sheet).unwrap();
        assert!(
            range.height() <= records.len() + 1,
            "{engine} {sheet}: rows past the CSV's"
        );
        assert_eq!(range.width(), header.len(), "{engine} {sheet}: columns");
        let mut seen = Vec::new();
        for (c, name) in header.iter().enumerate() {
            assert_eq!(
                range.get_value((0, c as u32)),
                Some(&Data::String(name.clone())),
                "{engine} {sheet}: header {c}"
            );
        }
        for (r, (record, object)) in records.iter().zip(json).enumerate() {
            let values: Vec<&serde_json::Value> = object.as_object().unwrap().values().collect();
            assert_eq!(
                values.len(),
                record.len(),
                "{engine} {report}: JSON columns"
            );
            for (c, (text, value)) in record.iter().zip(values).enumerate() {
                let at = format!("{engine} {sheet} row {} column {}", r + 1, header[c]);
                let cell = range.get_value((r as u32 + 1, c as u32));
                seen.push(check_cell(cell, text, value, &at));
            }
        }
        let formulas = book.worksheet_formula(sheet).unwrap();
        assert!(
            formulas.used_cells().all(|(_, _, f)| f.is_empty()),
            "{engine} {sheet}: a cell holds a formula"
        );
        check_header(&mut book, &path, i + 1, sheet, header.len(), records.len());
        cells.insert(sheet.clone(), seen);
        row_counts.push(records.len());
    }

    // The About sheet: every report, its sheet, rows, description and when it was made.
    let about = book.worksheet_range("About").unwrap();
    let head = ["report", "sheet", "rows", "description", "made (UTC)"];
    for (c, h) in head.iter().enumerate() {
        assert_eq!(
            about.get_value((0, c as u32)),
            Some(&Data::String(h.to_string()))
        );
    }
    assert_eq!(
        about.height(),
        expected.len() + 1,
        "{engine}: About lists every report"
    );
    let now = jiff::Timestamp::now();
    for (i, ((report, sheet), rows)) in expected.iter().zip(&row_counts).enumerate() {
        let r = i as u32 + 1;
        let text = |c: u32| match about.get_value((r, c)) {
            Some(Data::String(s)) => s.clone(),
            other => panic!("{engine}: About row {r} column {c}: {other:?}"),
        };
        assert_eq!(text(0), *report);
        assert_eq!(text(1), *sheet);
        assert_eq!(
            about.get_value((r, 2)),
            Some(&Data::Float(*rows as f64)),
            "{report}"
        );
        let sql = p.read(&format!("queries/{report}.sql"));
        let want = description(&sql);
        assert!(!want.is_empty(), "{report} has no header comment");
        assert_eq!(text(3), want, "{report}");
        let Some(Data::DateTime(made)) = about.get_value((r, 4)) else {
            panic!("{engine}: About row {r}: no time made");
        };
        let made: jiff::Timestamp = date_text(made, "2026-01-01T00:00:00Z").parse().unwrap();
        assert!(
            made >= started.round(jiff::Unit::Second).unwrap() - jiff::SignedDuration::from_secs(1)
                && made <= now,
            "{engine} {report}: made {made}, the test ran from {started} to {now}"
        );
    }
    check_header(&mut book, &path, 0, "About", head.len(), expected.len());
    cells
}

#[test]
fn every_cell_matches_the_csv_of_the_same_run_on_every_engine() {
    let mut by_engine = Vec::new();
    for engine in engines() {
        let p = project();
        let started = jiff::Timestamp::now();
        p.ok(&["--engine", engine, "run", "--format", "xlsx"]);
        p.ok(&["--engine", engine, "run"]);
        p.ok(&["--engine", engine, "run-queries", "--format", "json"]);
        assert!(!p.path("output/.reports.xlsx.tmp").exists());
        let cells = check_workbook(&p, engine, started);

        // The cells that prove the typing, named.
        let cells_sheet = &cells["zz_cells"];
        let want = [
            r#"String("=1+1")"#,
            r#"String("+1")"#,
            r#"String("-1")"#,
            r#"String("@SUM(A1)")"#,
        ];
        assert_eq!(cells_sheet[..4], want, "{engine}");
        for date in &cells_sheet[4..7] {
            assert!(date.starts_with("DateTime("), "{engine}: {date}");
        }
        let times = &cells["zz_incident_times_from_pagerdut"];
        assert!(
            times.iter().filter(|c| c.starts_with("DateTime(")).count() >= 36,
            "{engine}: the incidents' dates are not dates: {times:?}"
        );
        assert_eq!(cells_sheet[7], "Empty");
        assert_eq!(
            cells_sheet[8..12],
            [
                "Float(1.5)",
                "Float(-7.0)",
                r#"String("1234567890123456789")"#,
                r#"String("2026-02-30")"#
            ]
        );
        by_engine.push((engine, cells));
    }
    // Both engines give the very same cells.
    for (engine, cells) in &by_engine[1..] {
        assert_eq!(
            *cells, by_engine[0].1,
            "{engine} differs from {}",
            by_engine[0].0
        );
    }
}

#[test]
fn flags_the_format_has_no_use_for_are_refused() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    let mut out = String::new();
    for args in [
        &["run-queries", "--format", "xlsx", "--escape-formulas"][..],
        &["run-queries", "--format", "json", "--escape-formulas"],
        &["run-queries", "--workbook", "x.xlsx"],
        &["run", "--format", "xlsx", "--workbook", "sub/x.xlsx"],
        &["run-queries", "--format", "xlsx", "--workbook", "x.csv"],
        &["run-queries", "--format", "xlsx", "--workbook", ".xlsx"],
    ] {
        let o = p.weir(args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.transcript());
        out.push_str(&format!("$ weir {}\n{}", args.join(" "), o.stderr));
    }
    insta::assert_snapshot!(out, @r"
    $ weir run-queries --format xlsx --escape-formulas
    error: `--escape-formulas` does nothing with `--format xlsx`
      hint: a workbook holds text as text, never as a formula: leave out `--escape-formulas`
    $ weir run-queries --format json --escape-formulas
    error: `--escape-formulas` does nothing with `--format json`
      hint: it escapes CSV cells: leave it out, or write CSV
    $ weir run-queries --workbook x.xlsx
    error: `--workbook` does nothing with `--format csv`
      hint: it names the workbook that `--format xlsx` writes: add that, or leave it out
    $ weir run --format xlsx --workbook sub/x.xlsx
    error: `--workbook sub/x.xlsx` is not a file name
      hint: name a file that output/ holds, such as `--workbook reports.xlsx`
    $ weir run-queries --format xlsx --workbook x.csv
    error: `--workbook x.csv` does not end in `.xlsx`
      hint: Excel opens a workbook by its `.xlsx` ending: `--workbook x.csv.xlsx`
    $ weir run-queries --format xlsx --workbook .xlsx
    error: `--workbook .xlsx` is not a file name
      hint: name a file that output/ holds, such as `--workbook reports.xlsx`
    ");
    assert!(!p.path("output").exists());
}

#[test]
fn the_workbook_may_be_named_and_hold_some_reports() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    let out = p.ok(&[
        "run-queries",
        "root_cause_ranking",
        "incident_monthly",
        "--format",
        "xlsx",
        "--workbook",
        "Weekly.XLSX",
    ]);
    insta::assert_snapshot!(out.stderr, @r"
    wrote output/Weekly.XLSX, sheet incident_monthly (0 rows)
    wrote output/Weekly.XLSX, sheet root_cause_ranking (0 rows)
    ");
    assert_eq!(p.files("output"), ["Weekly.XLSX"]);
    let book = open(&p.path("output/Weekly.XLSX"));
    assert_eq!(
        book.sheet_names(),
        ["About", "incident_monthly", "root_cause_ranking"]
    );
}

#[test]
fn a_workbook_that_cannot_be_written_says_where_and_what_to_do() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    // A file where output/ should be (permissions do not stop root, who runs CI).
    p.write("output", "");
    let out = p.weir(&["run-queries", "--format", "xlsx"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: output/reports.xlsx: cannot write the workbook: File exists (os error 17)
      hint: check that output/ is a folder you may write to, that the disk has room, and that no spreadsheet holds the workbook open
    ");
    std::fs::remove_file(p.path("output")).unwrap();
    // A folder where the workbook should be.
    std::fs::create_dir_all(p.path("output/reports.xlsx")).unwrap();
    let out = p.weir(&["run-queries", "--format", "xlsx"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: output/reports.xlsx: cannot write the workbook: Is a directory (os error 21)
      hint: check that output/ is a folder you may write to, that the disk has room, and that no spreadsheet holds the workbook open
    ");
    assert_eq!(
        p.files("output"),
        Vec::<String>::new(),
        "the temporary file is left"
    );
}

#[test]
fn a_report_too_large_for_a_sheet_is_named_with_the_way_out() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    // 32,768 characters, one past what a cell holds.
    p.write(
        "queries/zz_long.sql",
        "SELECT 'a' AS id, replace(hex(zeroblob(16384)), '0', 'x') AS t",
    );
    let out = p.weir(&["run-queries", "zz_long", "--format", "xlsx"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_long.sql: row 1, column `t`: the text is longer than the 32767 characters a cell holds, so it cannot go into `output/reports.xlsx`
      hint: write it as CSV instead: `weir run-queries zz_long --format csv`
    ");
    // One row past what a sheet holds below its header.
    p.write(
        "queries/zz_rows.sql",
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1048576) \
         SELECT i FROM n",
    );
    let out = p.weir(&["run-queries", "zz_rows", "--format", "xlsx"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_rows.sql: the report has more rows than the 1048575 a sheet holds below its header, so it cannot go into `output/reports.xlsx`
      hint: write it as CSV instead: `weir run-queries zz_rows --format csv`
    ");
    assert!(!p.path("output/reports.xlsx").exists());
}
