//! `weir scan-pii`: reads every text value of every table in the database (on a read-only
//! connection, through the engine, so SQLite and DuckDB alike; `weir_rejected` too, which keeps
//! quarantined records whole) and every text file in output/, and lists what looks like an
//! email, a phone number, an IP address or a token: where, which column, what kind, how many,
//! and one masked sample (`crate::pii`; a raw value is never printed). Exits 1 when anything is
//! found outside the columns that a mapper marks `privacy: allow`. Writes nothing.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::engine::{self, Engine, QueryError, RowSink, Value};
use crate::error::{Diagnostic, Error, Result};
use crate::lock::{self, Mode};
use crate::mapper::{self, privacy::Privacy};
use crate::pii::{self, Kind};
use crate::schema::Schema;
use crate::settings::Settings;

/// Where something was found: a table or a file in output/, and its column (`-` in a file
/// without columns).
type Place = (String, String, Kind);

#[derive(Default)]
struct Finding {
    count: usize,
    /// How many of them are allowed: in a `privacy: allow` column, or in output/ a value such a
    /// column holds (a report may show it).
    allowed: usize,
    sample: String,
}

#[derive(Default)]
struct Scan {
    found: BTreeMap<Place, Finding>,
    /// The values found in `privacy: allow` columns.
    allowed_values: HashSet<String>,
    text_values: usize,
}

impl Scan {
    /// A text value of a table's column, or (`column_allowed: None`) of a file in output/.
    fn text(&mut self, place: &str, column: &str, text: &str, column_allowed: Option<bool>) {
        self.text_values += 1;
        for f in pii::find(text) {
            let value = &text[f.start..f.end];
            let allowed = match column_allowed {
                Some(true) => {
                    self.allowed_values.insert(value.to_string());
                    true
                }
                Some(false) => false,
                None => self.allowed_values.contains(value),
            };
            let entry = self
                .found
                .entry((place.to_string(), column.to_string(), f.kind))
                .or_default();
            if entry.count == entry.allowed && !allowed || entry.count == 0 {
                entry.sample = pii::mask(f.kind, value);
            }
            entry.count += 1;
            entry.allowed += usize::from(allowed);
        }
    }
}

pub fn run(settings: &Settings) -> Result<()> {
    super::loaded_database(
        settings,
        "scan-pii",
        &super::NoData {
            empty: "there is nothing to scan",
            in_memory: "scan a file database, after `weir run`",
            missing: "make it with `weir run` first",
        },
    )?;
    let _db = lock::database(settings, Mode::Shared, "scan-pii")?;
    let (engine, schema) = super::open_with(settings, true)?;
    let allowed = allowed_columns(settings, &schema)?;
    let mut scan = Scan::default();
    let mut tables: Vec<String> = engine.tables()?.into_iter().map(|t| t.name).collect();
    tables.sort();
    // Quarantined records are kept whole, personal fields and all.
    tables.push("weir_rejected".into());
    for table in &tables {
        scan_table(engine.as_ref(), table, &allowed, &mut scan)?;
    }
    let files = scan_output(settings, &mut scan);
    let mut findings: HashSet<(&str, &str)> = HashSet::new();
    let mut out = String::new();
    for ((place, column, kind), f) in &scan.found {
        let is_allowed = f.allowed == f.count;
        if !is_allowed {
            findings.insert((place, column));
        }
        if out.is_empty() {
            out.push_str(&format!(
                "{:<40} {:<24} {:<6} {:>7}  {:<8} sample\n",
                "where", "column", "kind", "count", "status"
            ));
        }
        out.push_str(&format!(
            "{:<40} {:<24} {:<6} {:>7}  {:<8} {}\n",
            place,
            column,
            kind.name(),
            f.count,
            if is_allowed { "allowed" } else { "found" },
            f.sample
        ));
    }
    print!("{out}");
    if !findings.is_empty() {
        let what = match findings.len() {
            1 => "1 column holds".to_string(),
            n => format!("{n} columns hold"),
        };
        return Err(Error::problem(
            Diagnostic::new(format!(
                "{what} values that look personal, outside the columns marked `privacy: allow`"
            ))
            .hint(
                "protect them with `privacy: pseudonymize`, `drop`, `mask` or `redact` in their mappers \
                 (docs/MAPPERS.md), reload with `weir run-etl --full`, and scan again",
            ),
        ));
    }
    settings.say(format!(
        "ok: {} tables and {files} files in output/, {} text values: nothing personal outside allowed columns",
        tables.len(),
        scan.text_values
    ));
    Ok(())
}

/// The (table, column) pairs a mapper marks `privacy: allow`.
fn allowed_columns(settings: &Settings, schema: &Schema) -> Result<HashSet<(String, String)>> {
    let sources = mapper::sources(&settings.path("mappers")).map_err(anyhow::Error::from)?;
    // The secret is not needed to know what is allowed: read the mappers without it.
    let mappers = super::run_etl::read_mappers(settings, schema, &sources, None)?;
    let mut allowed = HashSet::new();
    for m in &mappers {
        let tables = std::iter::once((&m.spec.table, &m.columns)).chain(
            m.child_specs
                .iter()
                .map(|c| &c.spec.table)
                .zip(&m.child_columns),
        );
        for (table, columns) in tables {
            for c in columns.iter().filter(|c| c.privacy == Some(Privacy::Allow)) {
                allowed.insert((table.clone(), c.name.clone()));
            }
        }
    }
    Ok(allowed)
}

/// Reads every text cell of `table` into `scan`. `weir_rejected`, when not there yet (a
/// database never loaded), is skipped.
fn scan_table(
    engine: &dyn Engine,
    table: &str,
    allowed: &HashSet<(String, String)>,
    scan: &mut Scan,
) -> Result<()> {
    let mut sink = TableSink {
        table,
        allowed,
        columns: Vec::new(),
        scan,
    };
    match engine.query(
        &format!("SELECT * FROM {}", engine::quote(table)),
        &mut sink,
    ) {
        Ok(()) => Ok(()),
        // Made by the first load; an engine may say "no such table" in more than one way.
        Err(_) if table == "weir_rejected" => Ok(()),
        Err(QueryError::Sql(e)) => {
            Err(anyhow::anyhow!("cannot read table `{table}`: {}", e.message).into())
        }
        Err(e) => Err(anyhow::Error::from(e).into()),
    }
}

struct TableSink<'a> {
    table: &'a str,
    allowed: &'a HashSet<(String, String)>,
    /// Each column's name and whether it is allowed.
    columns: Vec<(String, bool)>,
    scan: &'a mut Scan,
}

impl RowSink for TableSink<'_> {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        self.columns = columns
            .iter()
            .map(|c| {
                let ok = self.allowed.contains(&(self.table.to_string(), c.clone()));
                (c.clone(), ok)
            })
            .collect();
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        for ((name, ok), v) in self.columns.iter().zip(values) {
            if let Value::Text(t) = v {
                self.scan.text(self.table, name, t, Some(*ok));
            }
        }
        Ok(())
    }
}

/// The text files of output/, each CSV cell under its column's name; other text line by line
/// (column `-`). A file that is not text (a workbook, Parquet) is named on stderr, unread: its
/// reports come from the tables scanned. Returns how many files were read.
fn scan_output(settings: &Settings, scan: &mut Scan) -> usize {
    let mut read = 0;
    for (relative, path) in output_files(settings) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            settings.say(format!("note: not scanned, not text: {relative}"));
            continue;
        };
        read += 1;
        if relative.ends_with(".csv") && csv_cells(&relative, &text, scan) {
            continue;
        }
        for line in text.lines() {
            scan.text(&relative, "-", line, None);
        }
    }
    read
}

/// Every file under output/, relative to the project root, in name order.
fn output_files(settings: &Settings) -> Vec<(String, PathBuf)> {
    let mut files: Vec<(String, PathBuf)> = walkdir::WalkDir::new(settings.path("output"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name() != ".gitkeep")
        .map(|e| {
            let rel = e
                .path()
                .strip_prefix(&settings.root)
                .unwrap_or(e.path())
                .to_string_lossy()
                .replace('\\', "/");
            (rel, e.path().to_path_buf())
        })
        .collect();
    files.sort();
    files
}

/// A CSV's cells under their header's names; false when it does not read as CSV (then it is
/// read line by line, and what this found is counted again: no harm, it still fails).
fn csv_cells(relative: &str, text: &str, scan: &mut Scan) -> bool {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let Ok(header) = reader.headers().cloned() else {
        return false;
    };
    for h in header.iter() {
        scan.text(relative, "(header)", h, None);
    }
    for record in reader.records() {
        let Ok(record) = record else { return false };
        for (i, cell) in record.iter().enumerate() {
            scan.text(relative, header.get(i).unwrap_or("-"), cell, None);
        }
    }
    true
}
