//! Every report in one workbook (`--format xlsx`): an "About" sheet listing them, then a sheet
//! per report in report order, typed cells (numbers, dates, text that is never a formula), a bold
//! frozen header with a filter. Rows come through the engines' one `RowSink` path, so both
//! engines give the same cells. Written whole to a temporary file and renamed, like the CSVs.

use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use super::excel::{self, Cell, SheetNames};
use super::{Report, query_error, read_query};
use crate::engine::{Engine, QueryError, RowSink, Value};
use crate::error::{Diagnostic, Error, Location, Result};

/// The first sheet's name; no report's sheet takes it.
pub const ABOUT: &str = "About";

/// One report's sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sheet {
    pub report: String,
    pub sheet: String,
    pub rows: usize,
}

/// The formats cells take, made once.
struct Formats {
    header: Format,
    day: Format,
    second: Format,
    millisecond: Format,
}

impl Formats {
    fn new() -> Formats {
        let date = |p: excel::Precision| Format::new().set_num_format(p.number_format());
        Formats {
            header: Format::new().set_bold(),
            day: date(excel::Precision::Day),
            second: date(excel::Precision::Second),
            millisecond: date(excel::Precision::Millisecond),
        }
    }

    fn date(&self, precision: excel::Precision) -> &Format {
        match precision {
            excel::Precision::Day => &self.day,
            excel::Precision::Second => &self.second,
            excel::Precision::Millisecond => &self.millisecond,
        }
    }
}

/// A report that does not fit in a sheet: the user's to fix, by asking for CSV.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct TooLarge(String);

/// Writes one sheet from a query's rows.
struct SheetSink<'a> {
    sheet: &'a mut Worksheet,
    formats: &'a Formats,
    columns: Vec<String>,
    /// The widest cell of each column so far, in characters.
    widths: Vec<usize>,
    rows: usize,
}

impl SheetSink<'_> {
    fn finish(self) -> std::result::Result<usize, XlsxError> {
        for (col, width) in self.widths.iter().enumerate() {
            self.sheet
                .set_column_width(column(col), excel::column_width(*width))?;
        }
        self.sheet.set_freeze_panes(1, 0)?;
        let last = column(self.columns.len().saturating_sub(1));
        self.sheet.autofilter(0, 0, row(self.rows), last)?;
        Ok(self.rows)
    }
}

impl RowSink for SheetSink<'_> {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        if columns.len() > excel::MAX_COLUMNS {
            return Err(TooLarge(format!(
                "the report has {} columns; a sheet holds {}",
                columns.len(),
                excel::MAX_COLUMNS
            ))
            .into());
        }
        for (col, name) in columns.iter().enumerate() {
            self.sheet
                .write_string_with_format(0, column(col), name, &self.formats.header)?;
        }
        // Room for the filter button beside the name.
        self.widths = columns.iter().map(|c| excel::text_width(c) + 2).collect();
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        if self.rows + 1 >= excel::MAX_ROWS {
            return Err(TooLarge(format!(
                "the report has more rows than the {} a sheet holds below its header",
                excel::MAX_ROWS - 1
            ))
            .into());
        }
        self.rows += 1;
        let r = row(self.rows);
        for (col, v) in values.iter().enumerate() {
            let cell = excel::typed(v);
            let c = column(col);
            match &cell {
                Cell::Empty => {}
                Cell::Number(f) => {
                    self.sheet.write_number(r, c, *f)?;
                }
                Cell::Text(t) if t.encode_utf16().count() > excel::MAX_TEXT => {
                    return Err(TooLarge(format!(
                        "row {}, column `{}`: the text is longer than the {} characters a cell holds",
                        self.rows,
                        self.columns[col],
                        excel::MAX_TEXT
                    ))
                    .into());
                }
                // A string cell: Excel never runs it, even when it reads `=1+1`.
                Cell::Text(t) => {
                    self.sheet.write_string(r, c, *t)?;
                }
                Cell::Digits(d) => {
                    self.sheet.write_string(r, c, d)?;
                }
                Cell::Date(serial, precision) => {
                    self.sheet.write_number_with_format(
                        r,
                        c,
                        *serial,
                        self.formats.date(*precision),
                    )?;
                }
            }
            self.widths[col] = self.widths[col].max(cell.width());
        }
        Ok(())
    }
}

fn row(i: usize) -> u32 {
    u32::try_from(i).expect("rows are fewer than MAX_ROWS")
}

fn column(i: usize) -> u16 {
    u16::try_from(i).expect("columns are fewer than MAX_COLUMNS")
}

/// What the About sheet says of one report.
struct Entry {
    sheet: Sheet,
    description: String,
    /// When its query finished, `YYYY-MM-DDTHH:MM:SSZ`.
    made: String,
}

/// Runs every report into `output/<file>`: the About sheet first, then a sheet per report. The
/// workbook's properties name the weir version and the engine.
pub fn write_workbook(
    engine: &dyn Engine,
    reports: &[Report],
    output: &Path,
    file: &str,
) -> Result<Vec<Sheet>> {
    let shown = format!("output/{file}");
    let formats = Formats::new();
    let mut names = SheetNames::new(&[ABOUT]);
    let mut sheets = Vec::with_capacity(reports.len());
    let mut entries = Vec::with_capacity(reports.len());
    for report in reports {
        let sql = read_query(report)?;
        let name = names.assign(&report.name);
        let mut sheet = Worksheet::new();
        sheet.set_name(&name).map_err(|e| bug(e, &shown))?;
        let mut sink = SheetSink {
            sheet: &mut sheet,
            formats: &formats,
            columns: Vec::new(),
            widths: Vec::new(),
            rows: 0,
        };
        engine
            .query(&sql, &mut sink)
            .map_err(|e| sheet_error(report, &sql, e, &shown))?;
        let rows = sink.finish().map_err(|e| bug(e, &shown))?;
        entries.push(Entry {
            sheet: Sheet {
                report: report.name.clone(),
                sheet: name,
                rows,
            },
            description: super::description(&sql),
            made: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
        });
        sheets.push(sheet);
    }
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title("weir reports")
            .set_comment(format!(
                "made by weir {} on the {} engine; times are UTC",
                env!("CARGO_PKG_VERSION"),
                engine.kind().name()
            )),
    );
    workbook.push_worksheet(about(&entries, &formats).map_err(|e| bug(e, &shown))?);
    for sheet in sheets {
        workbook.push_worksheet(sheet);
    }
    let bytes = workbook.save_to_buffer().map_err(|e| bug(e, &shown))?;
    save(&bytes, output, file)?;
    Ok(entries.into_iter().map(|e| e.sheet).collect())
}

/// The first sheet: every report, its sheet, rows, description and when it was made.
fn about(entries: &[Entry], formats: &Formats) -> std::result::Result<Worksheet, XlsxError> {
    let mut sheet = Worksheet::new();
    sheet.set_name(ABOUT)?;
    let header = ["report", "sheet", "rows", "description", "made (UTC)"];
    let mut sink = SheetSink {
        sheet: &mut sheet,
        formats,
        columns: Vec::new(),
        widths: Vec::new(),
        rows: 0,
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    // A description is a paragraph: wrapped in its capped column rather than cut off.
    sink.sheet.set_column_format(
        3,
        &Format::new().set_text_wrap().set_align(FormatAlign::Top),
    )?;
    // The sink's own errors are its limits, which five columns and one row per report never reach.
    let unreachable = |e: anyhow::Error| -> XlsxError {
        XlsxError::ParameterError(format!("the About sheet: {e}"))
    };
    sink.header(&header).map_err(unreachable)?;
    for e in entries {
        let rows = i64::try_from(e.sheet.rows).unwrap_or(i64::MAX);
        sink.row(&[
            Value::Text(e.sheet.report.clone()),
            Value::Text(e.sheet.sheet.clone()),
            Value::Integer(rows),
            Value::Text(e.description.clone()),
            Value::Text(e.made.clone()),
        ])
        .map_err(unreachable)?;
    }
    sink.finish()?;
    Ok(sheet)
}

/// Writes the workbook's bytes to a temporary file beside it, flushed to disk, then renames it
/// over `output/<file>`: a spreadsheet never opens half a workbook.
fn save(bytes: &[u8], output: &Path, file: &str) -> Result<()> {
    let target = output.join(file);
    let temp = output.join(format!(".{file}.tmp"));
    let written = (|| -> std::io::Result<()> {
        std::fs::create_dir_all(output)?;
        let mut out = std::fs::File::create(&temp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, &target)
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::problem(
            Diagnostic::new(format!("cannot write the workbook: {e}"))
                .at(Location::file(format!("output/{file}")))
                .hint(
                    "check that output/ is a folder you may write to, that the disk has room, and \
                     that no spreadsheet holds the workbook open",
                ),
        )
    })
}

/// A report's failure: a query's as for any format, a report too large for a sheet the user's to
/// fix with CSV.
fn sheet_error(report: &Report, sql: &str, e: QueryError, shown: &str) -> Error {
    match e {
        QueryError::Sink(e) if e.is::<TooLarge>() => Error::problem(
            Diagnostic::new(format!("{e}, so it cannot go into `{shown}`"))
                .at(Location::file(&report.relative))
                .hint(format!(
                    "write it as CSV instead: `weir run-queries {} --format csv`",
                    report.name
                )),
        ),
        e => query_error(report, sql, e, shown),
    }
}

/// rust_xlsxwriter refusing what weir checked before handing it over.
fn bug(e: XlsxError, shown: &str) -> Error {
    Error::Internal(anyhow::Error::new(e).context(format!("cannot make `{shown}`")))
}
