//! weir's own tables in the warehouse, written in the same transaction as the data they describe,
//! so they can never disagree with it:
//! - `weir_files`: the ledger of loaded raw files (size, modification time, content hash, and the
//!   fingerprint of the mapper that loaded them); run-etl skips files it has loaded unchanged.
//! - `weir_loads` / `weir_load_sources`: one row per run-etl (and per source of it) with its
//!   accounting: records read = loaded + rejected + superseded.
//! - `weir_rejected`: the records a `--on-error quarantine` run set aside, with why.
//! - `weir_checks`: one row per check per `weir check` (or `weir run`): the load whose data it
//!   judged, its status and failing rows, and when.
//!
//! The SQL is plain enough for every engine; names starting `weir_` are reserved for these.

use std::collections::HashMap;

use crate::engine::{Load, Value};

pub(crate) const TABLES: &str = "\
CREATE TABLE IF NOT EXISTS weir_files (
  source TEXT NOT NULL, file TEXT NOT NULL, size BIGINT, modified_ns BIGINT, hash TEXT,
  mapper TEXT, recorded_ns BIGINT, load_id BIGINT, PRIMARY KEY (source, file));
CREATE TABLE IF NOT EXISTS weir_loads (
  id BIGINT PRIMARY KEY, started_at TEXT, ended_at TEXT, weir_version TEXT, engine TEXT,
  status TEXT, on_error TEXT, files BIGINT, files_unchanged BIGINT, records_read BIGINT,
  loaded BIGINT, rejected BIGINT, superseded BIGINT, removed BIGINT);
CREATE TABLE IF NOT EXISTS weir_load_sources (
  load_id BIGINT, source TEXT, files BIGINT, files_unchanged BIGINT, records_read BIGINT,
  loaded BIGINT, rejected BIGINT, superseded BIGINT, removed BIGINT,
  PRIMARY KEY (load_id, source));
CREATE TABLE IF NOT EXISTS weir_rejected (
  load_id BIGINT, source TEXT, file TEXT, line BIGINT, record TEXT, field TEXT, reason TEXT,
  raw TEXT);
CREATE TABLE IF NOT EXISTS weir_checks (
  load_id BIGINT, check_name TEXT, table_name TEXT, kind TEXT, severity TEXT, status TEXT,
  failing_rows BIGINT, checked_at TEXT)";

/// Creates the bookkeeping tables where missing.
pub fn ensure(load: &mut dyn Load) -> anyhow::Result<()> {
    for statement in TABLES.split(';') {
        load.execute(statement, &[])?;
    }
    Ok(())
}

/// Forgets every loaded file: after tables were dropped, everything must load again.
pub fn forget_files(load: &mut dyn Load) -> anyhow::Result<()> {
    ensure(load)?;
    load.execute("DELETE FROM weir_files", &[])?;
    Ok(())
}

/// The number of the next load: the engine's own (one that several writers load into at once
/// numbers them so that no two share one), else one more than the last.
pub fn next_load_id(load: &mut dyn Load) -> anyhow::Result<i64> {
    if let Some(id) = load.own_load_id() {
        return Ok(id);
    }
    let rows = load.select("SELECT coalesce(max(id), 0) + 1 FROM weir_loads", &[])?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::Integer(i)) => *i,
        _ => 1,
    })
}

/// The name the ledger keeps `relative` (a path in the project) under: the path itself, or in
/// a shared warehouse `<folder>//<path>`, so that each folder has a ledger of its own.
pub fn ledger_name(folder: &str, relative: &str) -> String {
    if folder.is_empty() {
        relative.to_string()
    } else {
        format!("{folder}//{relative}")
    }
}

/// What the ledger knows of one raw file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub size: i64,
    pub modified_ns: i64,
    pub hash: String,
    pub mapper: String,
    pub recorded_ns: i64,
}

/// The ledger of one source, by file (relative to the project root), as `folder` keeps it (see
/// `ledger_name`); then the other folders that have files of this source in the ledger.
pub fn files(
    load: &mut dyn Load,
    source: &str,
    folder: &str,
) -> anyhow::Result<(HashMap<String, FileEntry>, Vec<String>)> {
    let rows = load.select(
        "SELECT file, size, modified_ns, hash, mapper, recorded_ns FROM weir_files WHERE source = ?",
        &[text(source)],
    )?;
    let int = |v: &Value| match v {
        Value::Integer(i) => *i,
        _ => -1,
    };
    let string = |v: &Value| match v {
        Value::Text(s) => s.clone(),
        _ => String::new(),
    };
    let mut mine = HashMap::new();
    let mut others: Vec<String> = Vec::new();
    for r in &rows {
        let name = string(&r[0]);
        // A path in a project holds no `//`: a name that does is `<folder>//<path>`.
        let (owner, relative) = name.split_once("//").unwrap_or(("", &name));
        if owner != folder {
            if !others.iter().any(|o| o == owner) {
                others.push(owner.to_string());
            }
            continue;
        }
        let entry = FileEntry {
            size: int(&r[1]),
            modified_ns: int(&r[2]),
            hash: string(&r[3]),
            mapper: string(&r[4]),
            recorded_ns: int(&r[5]),
        };
        mine.insert(relative.to_string(), entry);
    }
    Ok((mine, others))
}

/// Records that `file` of `source` is loaded as `entry` by load `load_id`. When it was read
/// afresh (`fresh`), what earlier loads set aside from it goes: this load judged it again.
pub fn file_loaded(
    load: &mut dyn Load,
    source: &str,
    folder: &str,
    file: &str,
    entry: &FileEntry,
    load_id: i64,
    fresh: bool,
) -> anyhow::Result<()> {
    let file = &ledger_name(folder, file);
    load.execute(
        "DELETE FROM weir_files WHERE source = ? AND file = ?",
        &[text(source), text(file)],
    )?;
    load.execute(
        "INSERT INTO weir_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            text(source),
            text(file),
            Value::Integer(entry.size),
            Value::Integer(entry.modified_ns),
            text(&entry.hash),
            text(&entry.mapper),
            Value::Integer(entry.recorded_ns),
            Value::Integer(load_id),
        ],
    )?;
    if fresh {
        load.execute(
            "DELETE FROM weir_rejected WHERE source = ? AND file = ? AND load_id <> ?",
            &[text(source), text(file), Value::Integer(load_id)],
        )?;
    }
    Ok(())
}

/// Forgets a file that is gone from raw_data/ (its rows stay: raw pages are history).
pub fn file_gone(
    load: &mut dyn Load,
    source: &str,
    folder: &str,
    file: &str,
) -> anyhow::Result<()> {
    let file = &ledger_name(folder, file);
    for sql in [
        "DELETE FROM weir_files WHERE source = ? AND file = ?",
        "DELETE FROM weir_rejected WHERE source = ? AND file = ?",
    ] {
        load.execute(sql, &[text(source), text(file)])?;
    }
    Ok(())
}

/// One record (or a whole file, when `record` is `None`) set aside by a quarantine run.
#[derive(Debug, Clone, Default)]
pub struct Rejected {
    pub file: String,
    pub line: Option<usize>,
    /// The record's place in the file: a JSON pointer, or its index.
    pub record: Option<String>,
    pub field: Option<String>,
    pub reason: String,
    /// The record as JSON.
    pub raw: Option<String>,
}

/// `folder` as for the ledger: a shared warehouse's `weir_rejected.file` says which folder.
pub fn reject(
    load: &mut dyn Load,
    load_id: i64,
    source: &str,
    folder: &str,
    r: &Rejected,
) -> anyhow::Result<()> {
    let opt = |v: &Option<String>| v.as_deref().map_or(Value::Null, text);
    load.execute(
        "INSERT INTO weir_rejected VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Value::Integer(load_id),
            text(source),
            text(&ledger_name(folder, &r.file)),
            r.line.map_or(Value::Null, |l| Value::Integer(l as i64)),
            opt(&r.record),
            opt(&r.field),
            text(&r.reason),
            opt(&r.raw),
        ],
    )?;
    Ok(())
}

/// The accounting of one source in one load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub files: usize,
    pub files_unchanged: usize,
    pub records_read: usize,
    pub loaded: usize,
    pub rejected: usize,
    pub superseded: usize,
    pub removed: usize,
}

impl Tally {
    pub fn add(&mut self, o: &Tally) {
        self.files += o.files;
        self.files_unchanged += o.files_unchanged;
        self.records_read += o.records_read;
        self.loaded += o.loaded;
        self.rejected += o.rejected;
        self.superseded += o.superseded;
        self.removed += o.removed;
    }

    fn values(&self) -> [Value; 7] {
        [
            self.files,
            self.files_unchanged,
            self.records_read,
            self.loaded,
            self.rejected,
            self.superseded,
            self.removed,
        ]
        .map(|n| Value::Integer(n as i64))
    }
}

/// A run-etl as `weir_loads` keeps it.
pub struct LoadRow<'a> {
    pub id: i64,
    pub started_at: &'a str,
    pub ended_at: &'a str,
    pub engine: &'a str,
    pub status: &'a str,
    pub on_error: &'a str,
    pub total: &'a Tally,
}

pub fn record_load(
    load: &mut dyn Load,
    row: &LoadRow,
    sources: &[(String, Tally)],
) -> anyhow::Result<()> {
    let mut values = vec![
        Value::Integer(row.id),
        text(row.started_at),
        text(row.ended_at),
        text(env!("CARGO_PKG_VERSION")),
        text(row.engine),
        text(row.status),
        text(row.on_error),
    ];
    values.extend(row.total.values());
    load.execute(
        "INSERT INTO weir_loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &values,
    )?;
    for (source, tally) in sources {
        let mut values = vec![Value::Integer(row.id), text(source)];
        values.extend(tally.values());
        load.execute(
            "INSERT INTO weir_load_sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &values,
        )?;
    }
    Ok(())
}

/// One check's result as `weir_checks` keeps it.
pub struct CheckRow<'a> {
    pub name: &'a str,
    pub table: &'a str,
    pub kind: &'a str,
    pub severity: &'a str,
    pub status: &'a str,
    pub failing_rows: u64,
}

/// Records the results of one run of checks, made at `checked_at`, against the data of the
/// latest load (none before the first). Returns that load's number.
pub fn record_checks(
    load: &mut dyn Load,
    checked_at: &str,
    rows: &[CheckRow],
) -> anyhow::Result<Option<i64>> {
    ensure(load)?;
    // A failed load was rolled back: the data judged is that of the last load that was not.
    let latest = load.select(
        "SELECT max(id) FROM weir_loads WHERE coalesce(status, '') <> 'failed'",
        &[],
    )?;
    let load_id = match latest.first().and_then(|r| r.first()) {
        Some(Value::Integer(i)) => Some(*i),
        _ => None,
    };
    for r in rows {
        load.execute(
            "INSERT INTO weir_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                load_id.map_or(Value::Null, Value::Integer),
                text(r.name),
                text(r.table),
                text(r.kind),
                text(r.severity),
                text(r.status),
                Value::Integer(r.failing_rows as i64),
                text(checked_at),
            ],
        )?;
    }
    Ok(load_id)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}
