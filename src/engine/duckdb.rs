//! DuckDB through the duckdb crate. Loading is bulk: records are held in Rust, column by column,
//! and merged in batches as Arrow record batches that DuckDB scans in place (`weir_batch(?)`), by
//! a few set statements per table, never one INSERT round-trip per row. The merge keeps SQLite's
//! rule exactly: per key, the held copy with the newest version wins (the latest record among
//! equals, as if applied one by one), and it replaces the stored row only when its version is
//! newer or equal; its children replace the stored set. Nothing is staged in DuckDB tables: a
//! transaction keeps what it writes until the commit, so staging would grow with the load.
//! Tables carry no primary-key index (`unindex`): weir keeps the key, and a load into a file runs
//! under a memory limit sized from its widest table (`Limit`), so its memory stays flat.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use duckdb::arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Float64Builder, Int64Array, Int64Builder,
    StringArray, StringBuilder,
};
use duckdb::arrow::compute::filter_record_batch;
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use duckdb::{Connection, OptionalExt, ToSql};

use super::{
    ChildSpec, Column, Counts, Engine, Kind, Load, MergeRefused, QueryError, RowSink, SqlError,
    Table, Value, WriteSpec, quote,
};

/// Records held per table before a merge: bounds the memory they take; a batch amortises the
/// merge's few statements.
const BATCH: usize = 10_000;

/// What DuckDB may use while loading into a file, unless `WEIR_DUCKDB_MEMORY` says: at least
/// `MEMORY_FLOOR`, and `MEMORY_PER_COLUMN` for each column of the widest table a load writes (with
/// its child tables), on top of `MEMORY_BASE`. Appending and committing pin about a quarter to a
/// whole MiB per column; the rest of what a load writes spills to the database file, so the
/// memory a load takes does not grow with the data (docs/BENCHMARKS.md has the measurements).
const MEMORY_FLOOR: u64 = 32 << 20;
const MEMORY_BASE: u64 = 8 << 20;
const MEMORY_PER_COLUMN: u64 = 5 << 18;

pub struct DuckDb {
    conn: Connection,
    path: Option<std::path::PathBuf>,
    /// `WEIR_DUCKDB_MEMORY`, when set.
    load_memory: Option<u64>,
    /// Runs reports only, each in a read-only transaction (a database in memory has no
    /// read-only mode of its own).
    reports_only: bool,
}

impl DuckDb {
    /// A `read_only` file lets other readers in; DuckDB admits one writing process or many
    /// reading ones.
    pub fn open(db: Option<&Path>, read_only: bool) -> anyhow::Result<Self> {
        let conn = match db {
            Some(path) => {
                let mode = if read_only {
                    duckdb::AccessMode::ReadOnly
                } else {
                    duckdb::AccessMode::ReadWrite
                };
                let config = duckdb::Config::default().access_mode(mode)?;
                Connection::open_with_flags(path, config).with_context(|| {
                    format!("cannot open the DuckDB database `{}`", path.display())
                })?
            }
            None => Connection::open_in_memory()?,
        };
        configure(&conn)?;
        Ok(DuckDb {
            conn,
            path: db.map(Path::to_path_buf),
            load_memory: None,
            reports_only: read_only,
        })
    }

    /// Caps what DuckDB may use while loading into a file; `None` sizes it per load.
    pub fn load_memory(mut self, bytes: Option<u64>) -> Self {
        self.load_memory = bytes;
        self
    }
}

/// The memory a load may take, as DuckDB is told it.
struct Limit {
    bytes: u64,
    /// Set by the user: never raised.
    fixed: bool,
}

impl Limit {
    fn apply(&self, conn: &Connection) -> anyhow::Result<()> {
        conn.execute_batch(&format!(
            "SET memory_limit = '{}KiB'",
            self.bytes.div_ceil(1024)
        ))
        .context("cannot set DuckDB's memory limit")
    }
}

/// `128 MiB`.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// DuckDB could not get the memory a load needed within its limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "DuckDB needs more than the {} this load may use ({why}); set WEIR_DUCKDB_MEMORY to more, e.g. `WEIR_DUCKDB_MEMORY=1GB` in .env: {message}",
    mib(*.bytes)
)]
pub struct OutOfMemory {
    bytes: u64,
    why: &'static str,
    message: String,
}

/// Whether DuckDB's message says it ran out of memory: its own error class, or a commit that
/// could not get a block.
fn out_of_memory(message: &str) -> bool {
    message.starts_with("Out of Memory Error")
        || (message.starts_with("TransactionContext Error: Failed to commit")
            && (message.contains("could not allocate block")
                || message.contains("failed to pin block")))
}

/// DuckDB says "IO Error" for a full disk, a missing permission, a locked or damaged file, and
/// "Out of Memory Error" when its memory limit or the machine's memory is reached (a commit may
/// say it could not allocate or pin a block instead).
pub(super) fn is_resource_fault(cause: &(dyn std::error::Error + 'static)) -> bool {
    match cause.downcast_ref::<duckdb::Error>() {
        Some(duckdb::Error::DuckDBFailure(_, Some(msg))) => {
            msg.starts_with("IO Error")
                || out_of_memory(msg)
                || msg.contains("not a valid DuckDB database file")
        }
        _ => cause.is::<OutOfMemory>(),
    }
}

/// Sorts NULL first in ascending order, as SQLite does, so reports agree row for row; lets a
/// load's statements scan the batches it holds.
fn configure(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")?;
    conn.register_table_function::<ArrowVTab>("weir_batch")
}

/// DuckDB's message, first line only (the rest repeats the SQL).
fn sql_error(e: duckdb::Error) -> SqlError {
    let message = match e {
        duckdb::Error::DuckDBFailure(_, Some(msg)) => msg,
        other => other.to_string(),
    };
    let first = message.lines().next().unwrap_or_default().to_string();
    SqlError {
        message: first,
        offset: None,
    }
}

/// Where weir keeps the key of each table it created without a primary-key index: the names of
/// the key's columns in key order, joined by U+001F.
const KEYS: &str = "weir_keys";

fn read_tables(conn: &Connection) -> duckdb::Result<Vec<Table>> {
    let kept: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [KEYS],
        |r| r.get(0),
    )?;
    // A table made by an earlier weir may still carry its PRIMARY KEY: either way is a key.
    let kept_key = if kept {
        format!("(SELECT k.key_columns FROM {KEYS} k WHERE k.table_name = t.table_name)")
    } else {
        "NULL".into()
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT t.table_name, t.sql, \
                coalesce((SELECT list_aggr(c.constraint_column_names, 'string_agg', chr(31)) \
                          FROM duckdb_constraints() c \
                          WHERE c.table_oid = t.table_oid AND c.constraint_type = 'PRIMARY KEY'), \
                         {kept_key}, '') \
         FROM duckdb_tables() t \
         WHERE t.database_name = current_database() AND t.schema_name = 'main' AND NOT t.temporary \
           AND t.table_name NOT LIKE 'weir\\_%' ESCAPE '\\' \
         ORDER BY t.table_oid",
    ))?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for (name, sql, pk) in rows {
        let pk: Vec<&str> = pk.split('\u{1f}').filter(|s| !s.is_empty()).collect();
        let mut info = conn.prepare(
            "SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?) ORDER BY cid",
        )?;
        let columns = info
            .query_map([&name], |r| {
                let name: String = r.get(0)?;
                let position = pk.iter().position(|k| *k == name).map_or(0, |p| p + 1);
                Ok(Column {
                    declared: r.get::<_, String>(1)?.to_uppercase(),
                    pk: position,
                    notnull: r.get(2)?,
                    default: r.get(3)?,
                    name,
                })
            })?
            .collect::<Result<_, _>>()?;
        let checks = read_checks(conn, &name)?;
        tables.push(Table {
            name,
            columns,
            checks,
            sql,
        });
    }
    Ok(tables)
}

/// The CHECK constraints of `table` as DuckDB keeps them: its own text of each expression, and
/// the columns the expression reads.
fn read_checks(conn: &Connection, table: &str) -> duckdb::Result<Vec<super::Check>> {
    let mut stmt = conn.prepare(
        "SELECT expression, list_aggr(constraint_column_names, 'string_agg', chr(31)) \
         FROM duckdb_constraints() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? \
           AND constraint_type = 'CHECK' \
         ORDER BY constraint_index",
    )?;
    stmt.query_map([table], |r| {
        let columns: Option<String> = r.get(1)?;
        Ok(super::Check {
            expression: r.get(0)?,
            columns: columns
                .unwrap_or_default()
                .split('\u{1f}')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
        })
    })?
    .collect()
}

/// Rebuilds the new table `name` without its PRIMARY KEY and records `key` as its key instead.
/// DuckDB keeps a key's index whole in memory while a transaction writes to the table, so an
/// index would grow with the table; the loads keep keys unique themselves (one winner per key
/// replaces the stored row: DELETE, then INSERT). Key columns stay NOT NULL.
fn unindex(tx: &duckdb::Transaction<'_>, name: &str, key: &[&str]) -> anyhow::Result<()> {
    // DuckDB's own text of the table: one form, whatever way the schema file spelled the key.
    let sql: String = tx.query_row(
        "SELECT sql FROM duckdb_tables() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [name],
        |r| r.get(0),
    )?;
    let bare = without_primary_key(&sql)
        .with_context(|| format!("no PRIMARY KEY clause found in `{sql}`"))?;
    tx.execute_batch(&format!("DROP TABLE {}", quote(name)))?;
    tx.execute_batch(&bare)?;
    for k in key {
        tx.execute_batch(&format!(
            "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
            quote(name),
            quote(k)
        ))?;
    }
    tx.execute(
        &format!("INSERT INTO {KEYS} VALUES (?, ?)"),
        [name, &key.join("\u{1f}")],
    )?;
    Ok(())
}

/// `CREATE TABLE` text without its primary key: a `[CONSTRAINT n] PRIMARY KEY (…)` entry of the
/// column list goes with its comma; `PRIMARY KEY` after a column's type goes alone. Quoted names,
/// strings, comments and the insides of nested parentheses (CHECK, DEFAULT) are never touched. None when
/// the text declares no primary key.
fn without_primary_key(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let word_at = |i: usize, w: &str| {
        bytes.len() >= i + w.len()
            && bytes[i..i + w.len()].eq_ignore_ascii_case(w.as_bytes())
            && (i == 0 || !is_word(bytes[i - 1]))
            && bytes.get(i + w.len()).is_none_or(|&b| !is_word(b))
    };
    // The place of the first word at or after `i`: white space and comments skipped.
    let skip_space = |i: usize| sql.len() - super::skip_blank(&sql[i.min(sql.len())..]).len();
    let mut depth = 0;
    // Where the current entry of the column list starts: just after `(` or `,`.
    let mut entry = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = super::literal_end(bytes, i) {
            i = end + 1;
            continue;
        }
        match bytes[i] {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    entry = i + 1;
                }
            }
            b')' => depth -= 1,
            b',' if depth == 1 => entry = i + 1,
            b'P' | b'p' if depth == 1 && word_at(i, "PRIMARY") => {
                let k = skip_space(i + "PRIMARY".len());
                if !word_at(k, "KEY") {
                    i += 1;
                    continue;
                }
                let after = skip_space(k + "KEY".len());
                let first = skip_space(entry);
                let is_entry =
                    bytes.get(after) == Some(&b'(') && (first == i || word_at(first, "CONSTRAINT"));
                if !is_entry {
                    return Some(format!("{}{}", &sql[..i], &sql[k + "KEY".len()..]));
                }
                let mut end = after;
                let mut level = 0;
                while end < bytes.len() {
                    match bytes[end] {
                        b'(' => level += 1,
                        b')' => {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    end += 1;
                }
                // The entry goes with the comma before it (or, first in the list, after it).
                let comma = sql[..entry].rfind(',').filter(|&c| c + 1 == entry);
                return Some(match comma {
                    Some(c) => format!("{}{}", &sql[..c], &sql[end + 1..]),
                    None => {
                        let rest = skip_space(end + 1);
                        let rest = if bytes.get(rest) == Some(&b',') {
                            rest + 1
                        } else {
                            end + 1
                        };
                        format!("{}{}", &sql[..entry], &sql[rest..])
                    }
                });
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl ToSql for Value {
    fn to_sql(&self) -> duckdb::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::BigInt(*i),
            Value::Real(f) => ValueRef::Double(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A result value as weir reports it: integers of every width as integers, floats and decimals as
/// reals, booleans as 0/1 (as SQLite stores them), dates and times as ISO text.
fn from_duckdb(v: ValueRef<'_>) -> Result<Value, String> {
    let int =
        |i: i128| i64::try_from(i).map_or_else(|_| Value::Text(i.to_string()), Value::Integer);
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Boolean(b) => Value::Integer(i64::from(b)),
        ValueRef::TinyInt(i) => Value::Integer(i.into()),
        ValueRef::SmallInt(i) => Value::Integer(i.into()),
        ValueRef::Int(i) => Value::Integer(i.into()),
        ValueRef::BigInt(i) => Value::Integer(i),
        ValueRef::HugeInt(i) => int(i),
        ValueRef::UTinyInt(i) => Value::Integer(i.into()),
        ValueRef::USmallInt(i) => Value::Integer(i.into()),
        ValueRef::UInt(i) => Value::Integer(i.into()),
        ValueRef::UBigInt(i) => int(i.into()),
        ValueRef::UHugeInt(i) => i128::try_from(i).map_or_else(|_| Value::Text(i.to_string()), int),
        ValueRef::Float(f) => Value::Real(f.into()),
        ValueRef::Double(f) => Value::Real(f),
        ValueRef::Decimal(d) => d
            .to_string()
            .parse()
            .map_or_else(|_| Value::Text(d.to_string()), Value::Real),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
        ValueRef::Date32(days) => Value::Text(
            jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days(i64::from(days)))
                .map_or_else(|_| days.to_string(), |d| d.to_string()),
        ),
        ValueRef::Timestamp(unit, t) => {
            let micros = match unit {
                TimeUnit::Second => t.saturating_mul(1_000_000),
                TimeUnit::Millisecond => t.saturating_mul(1_000),
                TimeUnit::Microsecond => t,
                TimeUnit::Nanosecond => t / 1_000,
            };
            match jiff::Timestamp::from_microsecond(micros) {
                Ok(ts) => Value::Text(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
                Err(_) => Value::Text(t.to_string()),
            }
        }
        other => {
            let kind = format!("{other:?}");
            let kind = kind
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_uppercase();
            return Err(format!(
                "a {kind} value cannot go in a report; cast the column to text or a number"
            ));
        }
    })
}

impl Engine for DuckDb {
    fn kind(&self) -> Kind {
        Kind::DuckDb
    }

    fn declared_tables(&self, script: &str) -> Result<Vec<Table>, SqlError> {
        let scratch = Connection::open_in_memory().map_err(sql_error)?;
        scratch.execute_batch(script).map_err(sql_error)?;
        let other: Option<(String, String)> = scratch
            .query_row(
                "SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary \
                 UNION ALL SELECT 'index', index_name FROM duckdb_indexes() LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(sql_error)?;
        if let Some((kind, name)) = other {
            return Err(super::only_tables(&kind, &name));
        }
        let foreign: Option<String> = scratch
            .query_row(
                "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_error)?;
        if let Some(table) = foreign {
            return Err(SqlError {
                message: format!(
                    "table `{table}` declares a FOREIGN KEY, which weir's DuckDB tables cannot keep: DuckDB needs a key index on the table it references (weir's tables have none, so memory stays flat) and refuses to replace a referenced row; remove the REFERENCES clause (reports can still JOIN on the columns)"
                ),
                offset: None,
            });
        }
        read_tables(&scratch).map_err(sql_error)
    }

    fn tables(&self) -> anyhow::Result<Vec<Table>> {
        read_tables(&self.conn).context("cannot read the tables of the database")
    }

    fn apply_schema(&mut self, drop: &[String], create: &[&Table]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {KEYS} (table_name TEXT NOT NULL, key_columns TEXT NOT NULL)"
        ))?;
        for name in drop {
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
            tx.execute(&format!("DELETE FROM {KEYS} WHERE table_name = ?"), [name])?;
        }
        for t in create {
            tx.execute_batch(&t.sql)
                .with_context(|| format!("cannot run `{}`", t.sql))?;
            // A table dropped by hand leaves its old record behind.
            tx.execute(
                &format!("DELETE FROM {KEYS} WHERE table_name = ?"),
                [&t.name],
            )?;
            let key = t.primary_key();
            if !key.is_empty() {
                unindex(&tx, &t.name, &key)
                    .with_context(|| format!("cannot create `{}` without its key index", t.name))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>> {
        // A load into a file keeps to a small buffer pool and spills the rest of what it writes
        // to the file. A database in memory has nowhere to spill; reports read on a connection
        // of their own.
        let limit = self.path.is_some().then(|| Limit {
            bytes: self.load_memory.unwrap_or(MEMORY_FLOOR),
            fixed: self.load_memory.is_some(),
        });
        if let Some(limit) = &limit {
            limit.apply(&self.conn)?;
        }
        self.conn
            .execute_batch("BEGIN TRANSACTION")
            .context("cannot start a transaction")?;
        Ok(Box::new(DuckLoad {
            conn: &self.conn,
            updated: HashMap::new(),
            limit,
            stages: Vec::new(),
            seq: 0,
            row: 0,
            counts: Counts::default(),
            open: true,
        }))
    }

    fn read_only(&mut self) -> anyhow::Result<()> {
        match self.path.clone() {
            // A file is opened again in DuckDB's read-only mode, which also lets other readers in.
            Some(path) => *self = DuckDb::open(Some(&path), true)?.load_memory(self.load_memory),
            // A database in memory has no read-only mode: each report runs in a read-only
            // transaction (`reading`), so one report cannot change what the next one reads.
            None => self.reports_only = true,
        }
        Ok(())
    }

    fn check_query(&self, sql: &str) -> Result<(), SqlError> {
        self.reading(|| {
            self.one_select(sql)?;
            self.conn.prepare(sql).map(|_| ()).map_err(sql_error)
        })
    }

    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        self.reading(|| self.report_rows(sql, sink))
    }

    fn write_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        self.reading(|| self.report_parquet(sql, path))
    }
}

impl DuckDb {
    /// Runs `f` in a read-only transaction, rolled back after, once `read_only` ran: whatever a
    /// report runs cannot change the database, and a failed report leaves no aborted
    /// transaction to the next.
    fn reading<T, E: From<SqlError>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        if !self.reports_only {
            return f();
        }
        self.conn
            .execute_batch("BEGIN TRANSACTION READ ONLY")
            .map_err(|e| E::from(sql_error(e)))?;
        let result = f();
        // A failed rollback leaves the transaction to be discarded with the connection.
        let _ = self.conn.execute_batch("ROLLBACK");
        result
    }

    fn report_rows(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        let sql_err = |e: duckdb::Error| QueryError::Sql(sql_error(e));
        self.one_select(sql).map_err(QueryError::Sql)?;
        let mut stmt = self.conn.prepare(sql).map_err(sql_err)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        sink.header(&names).map_err(QueryError::Sink)?;
        let mut values = Vec::with_capacity(names.len());
        while let Some(row) = rows.next().map_err(sql_err)? {
            values.clear();
            for (i, name) in names.iter().enumerate() {
                let value = from_duckdb(row.get_ref(i).map_err(sql_err)?).map_err(|message| {
                    QueryError::Sql(SqlError {
                        message: format!("column `{name}`: {message}"),
                        offset: None,
                    })
                })?;
                values.push(value);
            }
            sink.row(&values).map_err(QueryError::Sink)?;
        }
        Ok(())
    }

    fn report_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        // Checked and prepared alone first, so a mistake in it is reported as the query's, not
        // the COPY's.
        self.one_select(sql).map_err(QueryError::Sql)?;
        self.conn
            .prepare(sql)
            .map_err(|e| QueryError::Sql(sql_error(e)))?;
        let query = self
            .without_closing_semicolon(sql)
            .map_err(QueryError::Sql)?;
        let target = path.to_string_lossy().replace('\'', "''");
        // The line break ends a comment the query may close with.
        let copy = format!("COPY ({query}\n) TO '{target}' (FORMAT parquet)");
        self.conn
            .execute_batch(&copy)
            .map_err(|e| QueryError::Sql(sql_error(e)))
    }
}

/// How DuckDB's parser reads a report: `json_serialize_sql` parses the text as preparing it
/// would and serialises it only when every statement in it is a SELECT.
#[derive(Debug, PartialEq)]
enum Parsed {
    Selects(Vec<serde_json::Value>),
    NotSelect,
    /// DuckDB's message and the byte offset it points at.
    Invalid(String, Option<usize>),
}

impl DuckDb {
    fn parse(&self, sql: &str) -> Result<Parsed, SqlError> {
        let text: String = self
            .conn
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
            .map_err(sql_error)?;
        let mut json: serde_json::Value = serde_json::from_str(&text).map_err(|e| SqlError {
            message: format!("cannot read DuckDB's parse of the query: {e}"),
            offset: None,
        })?;
        if json["error"] != true {
            let statements = json["statements"].take();
            return Ok(Parsed::Selects(match statements {
                serde_json::Value::Array(list) => list,
                _ => Vec::new(),
            }));
        }
        if json["error_type"] != "parser" {
            return Ok(Parsed::NotSelect);
        }
        let message = json["error_message"].as_str().unwrap_or_default();
        let offset = json["position"].as_str().and_then(|p| p.parse().ok());
        Ok(Parsed::Invalid(format!("Parser Error: {message}"), offset))
    }

    /// Checks that a report is exactly one SELECT statement before any of it runs: the duckdb
    /// crate's `prepare` runs every statement but the last, so no hand-written scanner (which
    /// would have to know DuckDB's dollar quotes, `$$…$$` and `$tag$…$tag$`) decides this.
    fn one_select(&self, sql: &str) -> Result<(), SqlError> {
        match self.parse(sql)? {
            Parsed::Selects(list) if list.len() == 1 => Ok(()),
            Parsed::Selects(list) if list.is_empty() => Err(SqlError {
                message: "the report holds no statement; write a SELECT".into(),
                offset: None,
            }),
            Parsed::Selects(_) => Err(super::one_statement()),
            Parsed::NotSelect => Err(super::must_only_read()),
            Parsed::Invalid(message, offset) => Err(SqlError { message, offset }),
        }
    }

    /// `sql`, one checked SELECT, without the `;` that may close it (COPY wraps it in
    /// parentheses): the last `;` with only blanks and comments after it goes when DuckDB parses
    /// the text without it to the very same statement, so a `;` inside a string stays.
    fn without_closing_semicolon(&self, sql: &str) -> Result<String, SqlError> {
        let Some(semicolon) = sql
            .rmatch_indices(';')
            .map(|(i, _)| i)
            .find(|&i| super::skip_blank(&sql[i + 1..]).is_empty())
        else {
            return Ok(sql.to_string());
        };
        let candidate = format!("{}{}", &sql[..semicolon], &sql[semicolon + 1..]);
        if self.parse(&candidate)? == self.parse(sql)? {
            Ok(candidate)
        } else {
            Ok(sql.to_string())
        }
    }
}

/// A column of held rows, typed by the values that came: integers, reals or text; a column whose
/// values disagree is held as text (the merge casts every column to its declared type).
enum Col {
    /// Only NULLs so far: how many.
    Nulls(usize),
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
}

impl Col {
    fn push(&mut self, v: &Value) {
        match (&mut *self, v) {
            (Col::Nulls(n), Value::Null) => *n += 1,
            (Col::Int(b), Value::Null) => b.append_null(),
            (Col::Real(b), Value::Null) => b.append_null(),
            (Col::Text(b), Value::Null) => b.append_null(),
            (Col::Int(b), Value::Integer(i)) => b.append_value(*i),
            (Col::Real(b), Value::Real(f)) => b.append_value(*f),
            (Col::Text(b), Value::Text(s)) => b.append_value(s),
            (Col::Text(b), Value::Integer(i)) => b.append_value(itoa::Buffer::new().format(*i)),
            (Col::Text(b), Value::Real(f)) => b.append_value(f.to_string()),
            (Col::Nulls(n), _) => {
                let n = *n;
                *self = match v {
                    Value::Integer(_) => Col::Int(Int64Builder::new()),
                    Value::Real(_) => Col::Real(Float64Builder::new()),
                    _ => Col::Text(StringBuilder::new()),
                };
                self.pad(n);
                self.push(v);
            }
            _ => {
                *self = Col::Text(self.take_as_text());
                self.push(v);
            }
        }
    }

    fn pad(&mut self, n: usize) {
        match self {
            Col::Nulls(m) => *m += n,
            Col::Int(b) => b.append_nulls(n),
            Col::Real(b) => b.append_nulls(n),
            Col::Text(b) => (0..n).for_each(|_| b.append_null()),
        }
    }

    /// The values so far as text, the way `push` writes a number as text; the column starts over.
    fn take_as_text(&mut self) -> StringBuilder {
        let mut text = StringBuilder::new();
        match self.finish().as_any() {
            a if let Some(a) = a.downcast_ref::<Int64Array>() => a.iter().for_each(|v| {
                text.append_option(v.map(|i| itoa::Buffer::new().format(i).to_string()))
            }),
            a if let Some(a) = a.downcast_ref::<Float64Array>() => a
                .iter()
                .for_each(|v| text.append_option(v.map(|f| f.to_string()))),
            a if let Some(a) = a.downcast_ref::<StringArray>() => {
                a.iter().for_each(|v| text.append_option(v))
            }
            _ => unreachable!("a held column is integers, reals or text"),
        }
        text
    }

    /// The values so far as an Arrow array; the column starts over, empty and untyped.
    fn finish(&mut self) -> ArrayRef {
        match std::mem::replace(self, Col::Nulls(0)) {
            Col::Nulls(n) => Arc::new(StringArray::new_null(n)),
            Col::Int(mut b) => Arc::new(b.finish()),
            Col::Real(mut b) => Arc::new(b.finish()),
            Col::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Rows held until a merge, column by column. Columns are named `c0`, `c1`, … for DuckDB.
struct Held {
    cols: Vec<Col>,
    len: usize,
}

impl Held {
    fn new(width: usize) -> Held {
        Held {
            cols: (0..width).map(|_| Col::Nulls(0)).collect(),
            len: 0,
        }
    }

    fn push<'v>(&mut self, row: impl IntoIterator<Item = &'v Value>) {
        for (col, v) in self.cols.iter_mut().zip(row) {
            col.push(v);
        }
        self.len += 1;
    }

    /// The held rows as a record batch; nothing is held afterwards.
    fn take(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let fields: Vec<Field> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true))
            .collect();
        self.len = 0;
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .expect("held columns have one length")
    }
}

/// `CAST(c0 AS type) AS "name", …` for the columns at `places`: held columns as the table
/// declares them (a held column is named after its place in the row).
fn typed(names: &[String], types: &[String], places: impl IntoIterator<Item = usize>) -> String {
    places
        .into_iter()
        .map(|i| format!("CAST(c{i} AS {}) AS {}", types[i], quote(&names[i])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every column of `table` with its declared type, as DuckDB spells it, in table order.
fn table_columns(conn: &Connection, table: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT column_name, data_type FROM duckdb_columns() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? \
         ORDER BY column_index",
    )?;
    Ok(stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// The declared types of `columns` of `table`, as DuckDB spells them.
fn column_types(conn: &Connection, table: &str, columns: &[String]) -> anyhow::Result<Vec<String>> {
    types_of(&table_columns(conn, table)?, table, columns)
}

/// The types of `columns` among the `declared` columns of `table`.
fn types_of(
    declared: &[(String, String)],
    table: &str,
    columns: &[String],
) -> anyhow::Result<Vec<String>> {
    columns
        .iter()
        .map(|c| {
            declared
                .iter()
                .find(|(name, _)| name == c)
                .map(|(_, ty)| ty.clone())
                .with_context(|| format!("table `{table}` has no column `{c}`"))
        })
        .collect()
}

/// The rows held for one top table and its children, and the statements that merge them.
struct Stage {
    spec: WriteSpec,
    /// Top rows: the spec's columns, then the record's number in the load.
    top: Held,
    /// Per child table: its columns, then the parent record's number and the row's number.
    children: Vec<Held>,
    /// Key (and version) columns and the record number: picks the batch's winners.
    probe: Vec<usize>,
    winners_sql: String,
    /// Deletes stored rows by row id (the column after the held ones).
    delete_sql: String,
    /// The table has columns this writer does not write: a replaced row keeps them, as an
    /// upsert that sets only its own columns would, so it is updated in place instead.
    keeps_rest: bool,
    /// Sets the writer's non-key columns of stored rows by row id (the column after the held
    /// ones); empty when the writer has none.
    update_sql: String,
    /// Deletes the children of the winners in the batch, per child table.
    delete_children_sql: Vec<String>,
    insert_sql: String,
    insert_children_sql: Vec<String>,
}

struct DuckLoad<'c> {
    conn: &'c Connection,
    /// Per table, the stored rows this load updated in place (their row ids do not change).
    updated: HashMap<String, Bits>,
    /// DuckDB's memory limit for the load, when it writes to a file.
    limit: Option<Limit>,
    stages: Vec<Stage>,
    /// The number of the record in this load: later records win ties, as in a one-by-one load.
    seq: i64,
    /// The number of the child row in this load: a later duplicate child key wins.
    row: i64,
    counts: Counts,
    open: bool,
}

/// A set of committed row ids (below `LOCAL_ROW_ID`, dense from 0), a bit each.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, id: i64) {
        let id = id as u64;
        let word = (id / 64) as usize;
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (id % 64);
    }

    fn has(&self, id: i64) -> bool {
        let id = id as u64;
        self.0
            .get((id / 64) as usize)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
}

/// DuckDB numbers the rows a transaction adds from 2^55 up (`MAX_ROW_ID` in its source) until
/// the commit: a stored row numbered from here was written by this load.
const LOCAL_ROW_ID: i64 = 36_028_797_018_960_000;

impl Stage {
    fn new(conn: &Connection, spec: &WriteSpec, child_specs: &[ChildSpec]) -> anyhow::Result<Self> {
        let declared = table_columns(conn, &spec.table)?;
        let types = types_of(&declared, &spec.table, &spec.columns)?;
        let table = quote(&spec.table);
        let width = spec.columns.len();
        let key: Vec<String> = spec.key.iter().map(|&k| quote(&spec.columns[k])).collect();
        let on: Vec<String> = key.iter().map(|k| format!("t.{k} = s.{k}")).collect();
        let mut probe: Vec<usize> = spec.key.clone();
        probe.extend(spec.version);
        let probe_columns = typed(&spec.columns, &types, probe.iter().copied());
        probe.push(width);
        let (order, newer) = match spec.version {
            Some(v) => {
                let v = quote(&spec.columns[v]);
                (
                    format!("{v} DESC NULLS LAST, _weir_seq DESC"),
                    format!("t.{} IS NULL OR t.{v} IS NULL OR s.{v} >= t.{v}", key[0]),
                )
            }
            // Without a version every copy replaces the stored row.
            None => ("_weir_seq DESC".to_string(), "true".to_string()),
        };
        // Per key the newest copy in the batch (the latest among equals), where it is at least
        // as new as the stored row; the row id of the stored row it replaces, and whether that
        // row was written earlier in this load.
        let winners_sql = format!(
            "SELECT s._weir_seq, t.rowid, coalesce(t.rowid >= {LOCAL_ROW_ID}, false) FROM \
               (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {order}) AS _weir_rank \
                FROM (SELECT {}, c{} AS _weir_seq FROM weir_batch(?))) s \
             LEFT JOIN {table} t ON {} \
             WHERE s._weir_rank = 1 AND ({newer})",
            key.join(", "),
            probe_columns,
            width,
            on.join(" AND "),
        );
        let rows = format!(
            "(SELECT {} FROM weir_batch(?))",
            typed(&spec.columns, &types, 0..width)
        );
        let names = cols(&spec.columns, "");
        let insert_sql = format!("INSERT INTO {table} ({names}) SELECT {names} FROM {rows}");
        let keeps_rest = declared
            .iter()
            .any(|(name, _)| !spec.columns.contains(name));
        let delete_sql = format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT c{} FROM weir_batch(?))",
            width + 1
        );
        // The values a replaced row keeps never leave DuckDB: every type and generated column
        // stays as it is.
        let set: Vec<usize> = (0..width).filter(|i| !spec.key.contains(i)).collect();
        let update_sql = if set.is_empty() {
            String::new()
        } else {
            let assign: Vec<String> = set
                .iter()
                .map(|&i| format!("{0} = w.{0}", quote(&spec.columns[i])))
                .collect();
            format!(
                "UPDATE {table} SET {} FROM (SELECT {}, c{} AS _weir_old FROM weir_batch(?)) w \
                 WHERE {table}.rowid = w._weir_old",
                assign.join(", "),
                typed(&spec.columns, &types, set.iter().copied()),
                width + 1
            )
        };
        let mut delete_children_sql = Vec::new();
        let mut insert_children_sql = Vec::new();
        let mut children = Vec::new();
        for child in child_specs {
            let c = &child.spec;
            delete_children_sql.push(format!(
                "DELETE FROM {} USING {rows} w WHERE {}",
                quote(&c.table),
                child.link_condition(spec, "w")
            ));
            let types = column_types(conn, &c.table, &c.columns)?;
            let names = cols(&c.columns, "");
            let rows = typed(&c.columns, &types, 0..c.columns.len());
            insert_children_sql.push(if c.key.is_empty() {
                format!(
                    "INSERT INTO {} ({names}) SELECT {names} FROM (SELECT {rows} FROM weir_batch(?))",
                    quote(&c.table)
                )
            } else {
                // A later duplicate child key wins, as in a one-by-one load.
                let key: Vec<String> = c.key.iter().map(|&k| quote(&c.columns[k])).collect();
                format!(
                    "INSERT INTO {} ({names}) SELECT {names} FROM \
                       (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY _weir_row DESC) AS _weir_rank \
                        FROM (SELECT {rows}, c{} AS _weir_row FROM weir_batch(?))) \
                     WHERE _weir_rank = 1",
                    quote(&c.table),
                    key.join(", "),
                    c.columns.len() + 1
                )
            });
            children.push(Held::new(c.columns.len() + 2));
        }
        Ok(Stage {
            spec: spec.clone(),
            top: Held::new(width + 1),
            children,
            probe,
            winners_sql,
            delete_sql,
            keeps_rest,
            update_sql,
            delete_children_sql,
            insert_sql,
            insert_children_sql,
        })
    }
}

fn cols(names: &[String], prefix: &str) -> String {
    names
        .iter()
        .map(|c| format!("{prefix}{}", quote(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Column `i` of `batch`, which holds record numbers (or row ids).
fn record_numbers(batch: &RecordBatch, i: usize) -> &Int64Array {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("record numbers are integers")
}

/// Which rows of `batch` belong to a winning record: its column `seq` holds record numbers.
fn winning(batch: &RecordBatch, seq: usize, winners: &HashSet<i64>) -> BooleanArray {
    record_numbers(batch, seq)
        .iter()
        .map(|s| Some(s.is_some_and(|s| winners.contains(&s))))
        .collect()
}

impl DuckLoad<'_> {
    fn stage(&mut self, spec: &WriteSpec, child_specs: &[ChildSpec]) -> anyhow::Result<usize> {
        if let Some(i) = self.stages.iter().position(|s| s.spec.id == spec.id) {
            return Ok(i);
        }
        let stage = Stage::new(self.conn, spec, child_specs)?;
        if let Some(limit) = &mut self.limit {
            let columns =
                stage.top.cols.len() + stage.children.iter().map(|c| c.cols.len()).sum::<usize>();
            let need = MEMORY_BASE + MEMORY_PER_COLUMN * columns as u64;
            if !limit.fixed && need > limit.bytes {
                limit.bytes = need;
                limit.apply(self.conn)?;
            }
        }
        self.stages.push(stage);
        Ok(self.stages.len() - 1)
    }

    /// `e`, or what it means when DuckDB ran out of the memory the load may use.
    fn told(&self, e: anyhow::Error) -> anyhow::Error {
        let Some(limit) = &self.limit else { return e };
        let oom = e
            .chain()
            .find_map(|cause| match cause.downcast_ref::<duckdb::Error>() {
                Some(duckdb::Error::DuckDBFailure(_, Some(message))) if out_of_memory(message) => {
                    Some(message.lines().next().unwrap_or_default().to_string())
                }
                _ => None,
            });
        match oom {
            Some(message) => OutOfMemory {
                bytes: limit.bytes,
                why: if limit.fixed {
                    "WEIR_DUCKDB_MEMORY"
                } else {
                    "sized from the widest table it writes"
                },
                message,
            }
            .into(),
            None => e,
        }
    }

    /// Merges the rows held for one top table into the tables; nothing is held afterwards.
    fn merge(&mut self, i: usize) -> anyhow::Result<()> {
        let conn = self.conn;
        let stage = &mut self.stages[i];
        let pending = stage.top.len;
        if pending == 0 {
            return Ok(());
        }
        let table = &stage.spec.table;
        let top = stage.top.take();
        let children: Vec<RecordBatch> = stage.children.iter_mut().map(Held::take).collect();
        let run = |sql: &str, batch: RecordBatch| -> anyhow::Result<usize> {
            let batch = ArrowBatchRegistration::new(batch);
            let n = conn
                .prepare_cached(sql)?
                .execute([&batch])
                .with_context(|| MergeRefused(table.clone()))?;
            Ok(n)
        };

        let probe = ArrowBatchRegistration::new(top.project(&stage.probe)?);
        let mut winners = HashSet::with_capacity(pending);
        // Winners that replace a stored row: the row id of that row, by record number.
        let mut replacing = HashMap::new();
        let mut again = 0;
        {
            let mut stmt = conn.prepare_cached(&stage.winners_sql)?;
            let mut rows = stmt
                .query([&probe])
                .with_context(|| MergeRefused(table.clone()))?;
            let updated = self.updated.get(table);
            while let Some(row) = rows.next().with_context(|| MergeRefused(table.clone()))? {
                let seq = row.get::<_, i64>(0)?;
                if !winners.insert(seq) {
                    // Only rows written outside weir can repeat a key: no index refuses them.
                    return Err(anyhow::anyhow!(
                        "the table holds more than one row with the key of a record loaded now; \
                         remove the extra rows (weir's DuckDB tables have no index to refuse them)"
                    )
                    .context(MergeRefused(table.clone())));
                }
                let rowid = row.get::<_, Option<i64>>(1)?;
                if let Some(rowid) = rowid {
                    replacing.insert(seq, rowid);
                }
                // The stored row was written by this load: inserted (a transaction-local row
                // id), or updated in place.
                let ours = row.get::<_, bool>(2)?
                    || rowid.is_some_and(|r| updated.is_some_and(|u| u.has(r)));
                again += usize::from(ours);
            }
        }
        drop(probe);
        if !winners.is_empty() {
            let width = stage.spec.columns.len();
            let top = filter_record_batch(&top, &winning(&top, width, &winners))?;
            let replaced: HashSet<i64> = replacing.keys().copied().collect();
            let old = filter_record_batch(&top, &winning(&top, width, &replaced))?;
            // Every winner's children go first: a new parent may still find children stored
            // under its key (its table rebuilt alone, say), and its set replaces them.
            for sql in &stage.delete_children_sql {
                run(sql, top.clone())?;
            }
            if old.num_rows() == 0 {
                run(&stage.insert_sql, top)?;
            } else {
                // The row id of the stored row each replaces, after the held columns.
                let rowids: Int64Array = record_numbers(&old, width)
                    .iter()
                    .map(|s| s.map(|s| replacing[&s]))
                    .collect();
                let mut fields: Vec<Field> = old
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.push(Field::new(
                    format!("c{}", width + 1),
                    duckdb::arrow::datatypes::DataType::Int64,
                    true,
                ));
                let mut columns: Vec<ArrayRef> = old.columns().to_vec();
                columns.push(Arc::new(rowids.clone()));
                let old = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
                if !stage.keeps_rest {
                    run(&stage.delete_sql, old)?;
                    run(&stage.insert_sql, top)?;
                } else {
                    // A replaced row keeps the columns this writer does not write: it is
                    // updated in place, and remembered as written by this load.
                    if !stage.update_sql.is_empty() {
                        run(&stage.update_sql, old)?;
                    }
                    // A row this load inserted keeps a transaction-local row id, known anyway.
                    let updated = self.updated.entry(table.clone()).or_default();
                    for r in rowids.iter().flatten().filter(|&r| r < LOCAL_ROW_ID) {
                        updated.set(r);
                    }
                    let fresh: HashSet<i64> = winners.difference(&replaced).copied().collect();
                    let fresh = filter_record_batch(&top, &winning(&top, width, &fresh))?;
                    if fresh.num_rows() > 0 {
                        run(&stage.insert_sql, fresh)?;
                    }
                }
            }
            for (batch, sql) in children.into_iter().zip(&stage.insert_children_sql) {
                if batch.num_rows() == 0 {
                    continue;
                }
                let seq = batch.num_columns() - 2;
                let batch = filter_record_batch(&batch, &winning(&batch, seq, &winners))?;
                if batch.num_rows() > 0 {
                    run(sql, batch)?;
                }
            }
        }
        // A winner that replaced a row written earlier in this load supersedes that record:
        // the counts are final outcomes, as on SQLite.
        let written = winners.len();
        self.counts.written += written - again;
        self.counts.superseded += pending - written + again;
        Ok(())
    }
}

/// The load's work; `Load` tells the errors.
impl DuckLoad<'_> {
    fn put(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        let i = self.stage(spec, child_specs)?;
        self.seq += 1;
        let seq = Value::Integer(self.seq);
        let stage = &mut self.stages[i];
        stage.top.push(row.iter().chain([&seq]));
        for (held, rows) in stage.children.iter_mut().zip(children) {
            for r in rows {
                self.row += 1;
                held.push(r.iter().chain([&seq, &Value::Integer(self.row)]));
            }
        }
        if stage.top.len >= BATCH {
            self.merge(i)?;
        }
        Ok(())
    }

    fn keep_only(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.merge_all()?;
        let sql = super::retain_sql(spec, child_specs);
        self.conn.execute_batch(&sql.create)?;
        {
            // Complete sources are hand-written and small: one INSERT per key is fine here.
            let mut insert = self.conn.prepare(&sql.insert)?;
            for k in keys {
                insert.execute(duckdb::params_from_iter(k))?;
            }
        }
        let mut removed = 0;
        for (i, delete) in sql.delete.iter().enumerate() {
            let n = self.conn.execute(delete, [])?;
            if i == 0 {
                removed = n;
            }
        }
        self.conn.execute_batch(&sql.drop)?;
        Ok(removed)
    }

    fn merge_all(&mut self) -> anyhow::Result<Counts> {
        for i in 0..self.stages.len() {
            self.merge(i)?;
        }
        Ok(std::mem::take(&mut self.counts))
    }

    fn run(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .execute(duckdb::params_from_iter(params))?)
    }

    fn rows(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(params))?;
        let n = rows.as_ref().map_or(0, |s| s.column_count());
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_duckdb(row.get_ref(i)?).map_err(anyhow::Error::msg)?);
            }
            out.push(values);
        }
        Ok(out)
    }

    fn finish(&mut self) -> anyhow::Result<()> {
        self.merge_all()?;
        self.conn
            .execute_batch("COMMIT")
            .context("cannot commit the load")?;
        self.open = false;
        Ok(())
    }
}

impl Load for DuckLoad<'_> {
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        self.put(spec, row, child_specs, children)
            .map_err(|e| self.told(e))
    }

    fn retain(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.keep_only(spec, child_specs, keys)
            .map_err(|e| self.told(e))
    }

    fn flush(&mut self) -> anyhow::Result<Counts> {
        self.merge_all().map_err(|e| self.told(e))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        self.run(sql, params).map_err(|e| self.told(e))
    }

    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        self.rows(sql, params).map_err(|e| self.told(e))
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.finish().map_err(|e| self.told(e))
    }
}

impl Drop for DuckLoad<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an unfinished load may remain; a failed rollback leaves the
            // transaction to be discarded with the connection.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.limit.is_some() {
            // What runs next on the connection (rebuilding tables, say) is not a load; failing
            // to lift the limit leaves a tighter one, never a wrong result.
            let _ = self.conn.execute_batch("RESET memory_limit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let a = a.as_any().downcast_ref::<StringArray>().expect("text");
        a.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn a_primary_key_comes_out_of_the_table_text_and_nothing_else_does() {
        let bare = |sql: &str| without_primary_key(sql).unwrap();
        assert_eq!(
            bare("CREATE TABLE t(id VARCHAR, n BIGINT, PRIMARY KEY(id));"),
            "CREATE TABLE t(id VARCHAR, n BIGINT);"
        );
        assert_eq!(
            bare("CREATE TABLE t (a INT, b INT, CONSTRAINT pk PRIMARY KEY (a, b))"),
            "CREATE TABLE t (a INT, b INT)"
        );
        assert_eq!(
            bare("CREATE TABLE t (PRIMARY KEY (a), a INT)"),
            "CREATE TABLE t ( a INT)"
        );
        assert_eq!(
            bare("CREATE TABLE t (a INT primary  key, b INT)"),
            "CREATE TABLE t (a INT , b INT)"
        );
        // Strings, quoted names and nested parentheses keep their words.
        assert_eq!(
            bare(
                "CREATE TABLE \"primary key\" (\"PRIMARY KEY\" TEXT CHECK (\"PRIMARY KEY\" <> 'PRIMARY KEY (x)'), PRIMARY KEY (\"PRIMARY KEY\"))"
            ),
            "CREATE TABLE \"primary key\" (\"PRIMARY KEY\" TEXT CHECK (\"PRIMARY KEY\" <> 'PRIMARY KEY (x)'))"
        );
        // Comments keep their words too, and their commas do not end an entry.
        assert_eq!(
            bare(
                "CREATE TABLE t (a INT, -- PRIMARY KEY (a), b\n b INT, /* PRIMARY KEY */ PRIMARY KEY (b))"
            ),
            "CREATE TABLE t (a INT, -- PRIMARY KEY (a), b\n b INT)"
        );
        assert_eq!(
            without_primary_key("CREATE TABLE t (primary_key INT)"),
            None
        );
    }

    #[test]
    fn a_report_reads_one_statement_and_nothing_else_even_in_memory() {
        use crate::engine::{Rows, WRITING_REPORTS};
        let mut engine = DuckDb::open(None, false).unwrap();
        engine
            .conn
            .execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        engine.read_only().unwrap();
        for sql in [
            "SELECT count(*) FROM t;\n-- the end\n",
            "WITH x AS (SELECT ';') SELECT * FROM x",
            "FROM t",
            "SELECT $$;$$ AS a, $q$'$q$ AS b",
        ] {
            engine
                .check_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            engine.query(sql, &mut Rows::default()).unwrap();
        }
        for sql in
            WRITING_REPORTS
                .iter()
                .chain(&["SET threads = 1", "INSTALL httpfs", "CHECKPOINT"])
        {
            assert!(engine.check_query(sql).is_err(), "{sql}");
            assert!(engine.query(sql, &mut Rows::default()).is_err(), "{sql}");
        }
        let e = engine
            .check_query("SELECT $$'$$; DELETE FROM t")
            .unwrap_err();
        assert!(
            e.message.starts_with("a report must only read"),
            "{}",
            e.message
        );
        let e = engine.check_query("SELECT 1; SELECT 2").unwrap_err();
        assert!(
            e.message.starts_with("a report holds one statement"),
            "{}",
            e.message
        );
        // Past the reports' own check, the database itself refuses to change.
        let refused = engine
            .reading(|| {
                engine
                    .conn
                    .execute_batch("DELETE FROM t")
                    .map_err(sql_error)
            })
            .unwrap_err();
        assert!(refused.message.contains("read-only"), "{}", refused.message);
        let mut rows = Rows::default();
        engine.query("SELECT count(*) FROM t", &mut rows).unwrap();
        assert_eq!(rows.0, [[Value::Integer(2)]]);
        for file in ["attached.db", "copied.csv"] {
            assert!(!std::path::Path::new(file).exists(), "{file}");
        }
    }

    #[test]
    fn a_parquet_report_may_close_with_a_semicolon() {
        let engine = DuckDb::open(None, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (sql, want) in [
            ("SELECT 'a' AS v;\n-- the end\n", "a"),
            ("SELECT 'x;--' AS v", "x;--"),
            ("SELECT $$;$$ AS v -- ;\n", ";"),
        ] {
            let path = dir.path().join("r.parquet");
            engine
                .write_parquet(sql, &path)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let read = format!("SELECT v FROM read_parquet('{}')", path.display());
            let v: String = engine.conn.query_row(&read, [], |r| r.get(0)).unwrap();
            assert_eq!(v, want, "{sql}");
        }
    }

    fn declared(engine: &DuckDb, script: &str) -> Vec<Table> {
        engine.declared_tables(script).unwrap()
    }

    #[test]
    fn tables_are_made_without_a_key_index_and_keep_their_key() {
        let mut engine = DuckDb::open(None, false).unwrap();
        let script = "CREATE TABLE a (id TEXT PRIMARY KEY, n BIGINT CHECK (n > 0), d TEXT DEFAULT 'x');\n\
                      CREATE TABLE b (k1 BIGINT, k2 TEXT NOT NULL, v TEXT, PRIMARY KEY (k2, k1));\n\
                      CREATE TABLE c (v TEXT);";
        let tables = declared(&engine, script);
        let create: Vec<&Table> = tables.iter().collect();
        engine.apply_schema(&[], &create).unwrap();
        // The same tables, keys and all, as far as the schema check can tell.
        let mut actual = engine.tables().unwrap();
        for t in &mut actual {
            t.sql = tables
                .iter()
                .find(|d| d.name == t.name)
                .unwrap()
                .sql
                .clone();
        }
        assert_eq!(actual, tables);
        assert_eq!(actual[1].primary_key(), ["k2", "k1"]);
        let count =
            |e: &DuckDb, sql: &str| -> i64 { e.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
            ),
            0
        );
        assert_eq!(count(&engine, "SELECT count(*) FROM duckdb_indexes()"), 0);
        let refused = |sql: &str| engine.conn.execute_batch(sql).unwrap_err().to_string();
        assert!(refused("INSERT INTO a (id, n) VALUES (NULL, 1)").contains("NOT NULL"));
        assert!(refused("INSERT INTO b VALUES (NULL, 'x', 'v')").contains("NOT NULL"));
        assert!(refused("INSERT INTO a (id, n) VALUES ('a', 0)").contains("CHECK"));
        engine
            .conn
            .execute_batch("INSERT INTO a (id, n) VALUES ('a', 1)")
            .unwrap();
        assert_eq!(count(&engine, "SELECT count(*) FROM a WHERE d = 'x'"), 1);
        // Recreating drops the old key record with the table.
        engine.apply_schema(&["b".into()], &[&tables[1]]).unwrap();
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM weir_keys WHERE table_name = 'b'"
            ),
            1
        );
        // Creating a table that was dropped by hand replaces its old key record.
        engine.conn.execute_batch("DROP TABLE b").unwrap();
        engine.apply_schema(&[], &[&tables[1]]).unwrap();
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM weir_keys WHERE table_name = 'b'"
            ),
            1
        );
        let tables = engine.tables().unwrap();
        let b = tables.iter().find(|t| t.name == "b").unwrap();
        assert_eq!(b.primary_key(), ["k2", "k1"]);
        // Declared again without a key, it has none.
        engine.conn.execute_batch("DROP TABLE b").unwrap();
        let keyless = declared(&engine, "CREATE TABLE b (k1 BIGINT, k2 TEXT, v TEXT);");
        engine.apply_schema(&[], &[&keyless[0]]).unwrap();
        let tables = engine.tables().unwrap();
        let b = tables.iter().find(|t| t.name == "b").unwrap();
        assert!(b.primary_key().is_empty());
        // A foreign key needs an index on the table it references: refused, with the fix.
        let e = engine
            .declared_tables(
                "CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE q (p_id TEXT REFERENCES p (id));",
            )
            .unwrap_err();
        assert!(
            e.message.starts_with("table `q` declares a FOREIGN KEY"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("remove the REFERENCES clause"),
            "{}",
            e.message
        );
    }

    fn spec(columns: &[&str]) -> WriteSpec {
        WriteSpec {
            id: 0,
            table: "t".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            key: vec![0],
            version: Some(1),
        }
    }

    #[test]
    fn a_table_an_earlier_weir_made_with_its_primary_key_still_loads() {
        let mut engine = DuckDb::open(None, false).unwrap();
        engine
            .conn
            .execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, version BIGINT, v TEXT)")
            .unwrap();
        assert_eq!(engine.tables().unwrap()[0].primary_key(), ["id"]);
        let spec = spec(&["id", "version", "v"]);
        let row = |id: &str, version: i64, v: &str| {
            [
                Value::Text(id.into()),
                Value::Integer(version),
                Value::Text(v.into()),
            ]
        };
        for rows in [
            vec![row("a", 1, "old"), row("b", 1, "b")],
            // A newer copy replaces the stored row within one transaction; an older one loses.
            vec![row("a", 2, "new"), row("b", 0, "stale")],
        ] {
            let mut load = engine.begin_load().unwrap();
            for r in &rows {
                load.write(&spec, r, &[], &[]).unwrap();
            }
            load.commit().unwrap();
        }
        let rows: Vec<(String, i64, String)> = engine
            .conn
            .prepare("SELECT * FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [("a".into(), 2, "new".into()), ("b".into(), 1, "b".into())]
        );
    }

    #[test]
    fn a_held_column_keeps_its_values_whatever_kinds_come() {
        let mut held = Held::new(4);
        let rows = [
            [
                Value::Null,
                Value::Integer(1),
                Value::Real(1.5),
                Value::Null,
            ],
            [
                Value::Integer(7),
                Value::Text("x".into()),
                Value::Integer(2),
                Value::Null,
            ],
            [Value::Null, Value::Null, Value::Real(-0.25), Value::Null],
        ];
        for row in &rows {
            held.push(row);
        }
        let batch = held.take();
        assert_eq!(batch.num_rows(), 3);
        // Only integers (and NULLs): integers, NULLs where they came.
        let ints = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ints.iter().collect::<Vec<_>>(), [None, Some(7), None]);
        // Kinds that disagree: text, each value as it would be written.
        assert_eq!(
            strings(batch.column(1)),
            [Some("1".into()), Some("x".into()), None]
        );
        assert_eq!(
            strings(batch.column(2)),
            [Some("1.5".into()), Some("2".into()), Some("-0.25".into())]
        );
        assert_eq!(strings(batch.column(3)), [None, None, None]);
        // Taking leaves nothing held, and the next batch starts untyped.
        held.push(&[
            Value::Text("a".into()),
            Value::Integer(3),
            Value::Null,
            Value::Real(2.0),
        ]);
        let batch = held.take();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(strings(batch.column(0)), [Some("a".into())]);
        assert!(
            batch
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .is_some()
        );
    }
}
