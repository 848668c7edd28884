//! Reports: `queries/<name>.sql` -> `output/<name>.csv` (or `.json`, `.parquet`, or one sheet
//! each of a workbook: `workbook`). A header row, RFC 4180 quoting, UTF-8, NULL as an empty cell,
//! numbers never in scientific notation. Written to a temporary file and renamed, so a
//! spreadsheet never opens half a report.

mod excel;
mod workbook;

pub use workbook::{Sheet, write_workbook};

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::engine::{Engine, QueryError, RowSink, Value};
use crate::error::{Diagnostic, Location, did_you_mean};

/// The file format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv {
        /// Prefix a text cell that a spreadsheet would run as a formula with `'` (OWASP's rule
        /// against CSV injection).
        escape_formulas: bool,
    },
    Json,
    /// DuckDB only.
    Parquet,
    /// Every report a sheet of one workbook (`write_workbook`), not a file each.
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv { .. } => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
            Format::Xlsx => "xlsx",
        }
    }
}

/// How the reports are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub format: Format,
    /// The workbook's file name in output/, for `Format::Xlsx`.
    pub workbook: String,
}

pub const DEFAULT_WORKBOOK: &str = "reports.xlsx";

/// `--workbook`: a file name in output/, ending in `.xlsx` (Excel refuses to open a workbook
/// named otherwise without a warning).
pub fn workbook_name(name: &str) -> crate::error::Result<String> {
    let refused = |message: &str, hint: String| {
        Err(crate::error::Error::problem(
            Diagnostic::new(message).hint(hint),
        ))
    };
    let nameless = name.trim_matches('.').is_empty() || name.eq_ignore_ascii_case(".xlsx");
    if name.contains(['/', '\\']) || nameless {
        return refused(
            &format!("`--workbook {name}` is not a file name"),
            "name a file that output/ holds, such as `--workbook reports.xlsx`".into(),
        );
    }
    if !name.to_ascii_lowercase().ends_with(".xlsx") {
        return refused(
            &format!("`--workbook {name}` does not end in `.xlsx`"),
            format!(
                "Excel opens a workbook by its `.xlsx` ending: `--workbook {}.xlsx`",
                name.trim_end_matches('.')
            ),
        );
    }
    Ok(name.to_string())
}

/// A report: its name and the SQL file that answers it for this engine.
pub struct Report {
    pub name: String,
    pub path: PathBuf,
    /// Its path relative to the project root, as messages show it.
    pub relative: String,
}

const ENGINE_SUFFIXES: [&str; 3] = [".sqlite", ".duckdb", ".clickhouse"];

/// The reports in `queries/`, by name; `queries/<name>.<engine>.sql` overrides `<name>.sql`.
pub fn list(root: &Path, engine: &str) -> anyhow::Result<Vec<Report>> {
    let dir = root.join("queries");
    let mut names = Vec::new();
    if dir.is_dir() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read `{}`", dir.display()))?
        {
            let path = entry?.path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".sql"))
            else {
                continue;
            };
            if ENGINE_SUFFIXES.iter().any(|s| stem.ends_with(s)) || stem.starts_with('.') {
                continue;
            }
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| {
            let special = format!("{name}.{engine}.sql");
            let file = if dir.join(&special).is_file() {
                special
            } else {
                format!("{name}.sql")
            };
            Report {
                path: dir.join(&file),
                relative: format!("queries/{file}"),
                name,
            }
        })
        .collect())
}

/// Picks the named reports (all when none is named); an unknown name is an error with a near name.
pub fn select(all: Vec<Report>, names: &[String]) -> Result<Vec<Report>, Vec<Diagnostic>> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut problems = Vec::new();
    for n in names {
        if !all.iter().any(|r| &r.name == n) {
            let mut d = Diagnostic::new(format!("no report `{n}`"))
                .at(Location::file(format!("queries/{n}.sql")));
            d.hint = did_you_mean(n, all.iter().map(|r| r.name.as_str())).or_else(|| {
                Some(format!(
                    "the reports are: {}",
                    all.iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(all
        .into_iter()
        .filter(|r| names.contains(&r.name))
        .collect())
}

/// Where in a SQL file the database's complaint points.
pub fn sql_location(file: &str, sql: &str, e: &crate::engine::SqlError) -> Location {
    match e.line_col(sql) {
        Some((l, c)) => Location::at(file, l, c),
        None => Location::file(file),
    }
}

/// What the query file says it answers: the comment lines it opens with, `-- ` stripped, as one
/// paragraph. Declarations such as `-- chart: …` are not part of it.
pub fn description(sql: &str) -> String {
    let mut words = Vec::new();
    for line in sql.trim_start().lines() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        if comment.starts_with("chart:") {
            continue;
        }
        words.extend(comment.split_whitespace());
    }
    words.join(" ")
}

/// The query text of a report; a file that cannot be read is the user's to fix.
pub(crate) fn read_query(report: &Report) -> crate::error::Result<String> {
    std::fs::read_to_string(&report.path).map_err(|e| {
        crate::error::Error::problem(
            Diagnostic::new(format!("cannot read the query: {e}"))
                .at(Location::file(&report.relative)),
        )
    })
}

/// A failed report as the user sees it: the query's fault at its line, or the file being
/// written's.
pub(crate) fn query_error(
    report: &Report,
    sql: &str,
    e: QueryError,
    writing: &str,
) -> crate::error::Error {
    match e {
        QueryError::Sql(e) => crate::error::Error::problem(
            Diagnostic::new(format!("the query failed: {}", e.message))
                .at(sql_location(&report.relative, sql, &e))
                .hint("fix the SQL; `weir validate` checks every query"),
        ),
        QueryError::Unsupported(message) => crate::error::Error::problem(
            Diagnostic::new(message).at(Location::file(&report.relative)),
        ),
        QueryError::Sink(e) => {
            crate::error::Error::Internal(e.context(format!("cannot write `{writing}`")))
        }
    }
}

/// Whether a spreadsheet would run this text as a formula: it starts with `=`, `+`, `-` or `@`,
/// or with a tab or carriage return, which some strip before looking (OWASP, CSV Injection).
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Formats a value for a CSV cell.
pub fn cell(v: &Value, out: &mut String) {
    out.clear();
    match v {
        Value::Null => {}
        Value::Integer(i) => out.push_str(itoa::Buffer::new().format(*i)),
        // Rust's `Display` for floats never uses an exponent and prints the shortest text that
        // reads back to the same number.
        Value::Real(f) if f.is_finite() => {
            let f = if *f == 0.0 { 0.0 } else { *f };
            out.push_str(&f.to_string())
        }
        Value::Real(_) => {}
        Value::Text(s) => out.push_str(s),
    }
}

struct CsvSink<W: Write> {
    writer: csv::Writer<W>,
    cell: String,
    rows: usize,
    escape_formulas: bool,
}

impl<W: Write> CsvSink<W> {
    /// Writes `self.cell`, a text one behind a `'` when it looks like a formula and that is
    /// asked for; numbers are never escaped (`-1.5` is a number to a spreadsheet, not a formula).
    fn write_text_cell(&mut self, text: bool) -> anyhow::Result<()> {
        if text && self.escape_formulas && looks_like_formula(&self.cell) {
            self.cell.insert(0, '\'');
        }
        self.writer.write_field(&self.cell)?;
        Ok(())
    }
}

impl<W: Write> RowSink for CsvSink<W> {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        for c in columns {
            self.cell.clone_from(c);
            self.write_text_cell(true)?;
        }
        self.writer.write_record(None::<&[u8]>)?;
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        for v in values {
            cell(v, &mut self.cell);
            self.write_text_cell(matches!(v, Value::Text(_)))?;
        }
        self.writer.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }
}

/// A JSON array of objects, one per row, keys in column order.
struct JsonSink<W: Write> {
    out: W,
    columns: Vec<String>,
    rows: usize,
}

impl<W: Write> RowSink for JsonSink<W> {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        self.columns = columns
            .iter()
            .map(|c| serde_json::to_string(c).expect("a string serialises"))
            .collect();
        self.out.write_all(b"[")?;
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        self.out
            .write_all(if self.rows == 0 { b"\n  {" } else { b",\n  {" })?;
        let mut cell = String::new();
        for (i, (name, v)) in self.columns.iter().zip(values).enumerate() {
            if i > 0 {
                self.out.write_all(b", ")?;
            }
            write!(self.out, "{name}: ")?;
            match v {
                Value::Null => self.out.write_all(b"null")?,
                Value::Text(t) => serde_json::to_writer(&mut self.out, t)?,
                Value::Real(f) if !f.is_finite() => self.out.write_all(b"null")?,
                number => {
                    self::cell(number, &mut cell);
                    self.out.write_all(cell.as_bytes())?;
                }
            }
        }
        self.out.write_all(b"}")?;
        self.rows += 1;
        Ok(())
    }
}

/// Runs one report into `output/<name>.<format>`; returns the number of rows where the format
/// tells it.
pub fn write(
    engine: &dyn Engine,
    report: &Report,
    output: &Path,
    format: Format,
) -> crate::error::Result<Option<usize>> {
    let sql = read_query(report)?;
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create `{}`", output.display()))?;
    let ext = format.extension();
    let target = output.join(format!("{}.{ext}", report.name));
    let temp = output.join(format!(".{}.{ext}.tmp", report.name));
    let result = write_temp(engine, &sql, &temp, format);
    let finished = result
        .map_err(|e| query_error(report, &sql, e, &temp.display().to_string()))
        .and_then(|rows| {
            std::fs::rename(&temp, &target)
                .with_context(|| format!("cannot write `{}`", target.display()))?;
            Ok(rows)
        });
    if finished.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    finished
}

fn write_temp(
    engine: &dyn Engine,
    sql: &str,
    temp: &Path,
    format: Format,
) -> Result<Option<usize>, QueryError> {
    // The engine checks that the report is one statement that only reads, before any of it runs.
    if format == Format::Parquet {
        return engine.write_parquet(sql, temp).map(|()| None);
    }
    let file = std::fs::File::create(temp).map_err(|e| QueryError::Sink(e.into()))?;
    let out = std::io::BufWriter::new(file);
    let finish = |out: std::io::BufWriter<std::fs::File>| -> anyhow::Result<()> {
        out.into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?
            .sync_all()?;
        Ok(())
    };
    match format {
        Format::Csv { escape_formulas } => {
            let writer = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(out);
            let mut sink = CsvSink {
                writer,
                cell: String::new(),
                rows: 0,
                escape_formulas,
            };
            engine.query(sql, &mut sink)?;
            let out = sink
                .writer
                .into_inner()
                .map_err(|e| QueryError::Sink(anyhow::anyhow!("{}", e.error())))?;
            finish(out).map_err(QueryError::Sink)?;
            Ok(Some(sink.rows))
        }
        Format::Json => {
            let mut sink = JsonSink {
                out,
                columns: Vec::new(),
                rows: 0,
            };
            engine.query(sql, &mut sink)?;
            let end: &[u8] = if sink.rows == 0 { b"]\n" } else { b"\n]\n" };
            sink.out
                .write_all(end)
                .map_err(|e| QueryError::Sink(e.into()))?;
            finish(sink.out).map_err(QueryError::Sink)?;
            Ok(Some(sink.rows))
        }
        Format::Parquet => unreachable!("handled above"),
        Format::Xlsx => unreachable!("a workbook holds every report: `write_workbook`"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_description_is_the_opening_comment_without_declarations() {
        let sql = "\n-- Incidents per month:\n--   how many, and when\n-- chart: line x=month y=n\n\
                   --\n-- detected.\nSELECT 1 -- not this\n-- nor this\n";
        assert_eq!(
            super::description(sql),
            "Incidents per month: how many, and when detected."
        );
        assert_eq!(super::description("SELECT 1"), "");
    }
}
