//! DuckDB through the duckdb crate. Loading is bulk (`merge`): records are held in Rust, column
//! by column (`held`), and merged in batches as Arrow record batches that DuckDB scans in place
//! (`weir_batch(?)`), by a few set statements per table (`stage`), never one INSERT round-trip
//! per row. Tables carry no primary-key index (`schema`): weir keeps the key, and a load into a
//! file runs under a memory limit sized from its widest table (`memory`), so its memory stays
//! flat. Reports are checked by DuckDB's own parser before any of them runs (`report`).

mod fresh;
mod functions;
mod held;
mod history;
mod memory;
mod merge;
mod report;
mod schema;
mod stage;

use std::path::Path;

use anyhow::Context;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::vtab::arrow::ArrowVTab;
use duckdb::{Connection, ToSql};

use self::memory::OutOfMemory;
use super::{Engine, Kind, Load, QueryError, RowSink, SqlError, Table, Value};

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

/// DuckDB says "IO Error" for a full disk, a missing permission, a locked or damaged file, and
/// "Out of Memory Error" when its memory limit or the machine's memory is reached (a commit may
/// say it could not allocate or pin a block instead).
pub(super) fn is_resource_fault(cause: &(dyn std::error::Error + 'static)) -> bool {
    match cause.downcast_ref::<duckdb::Error>() {
        Some(duckdb::Error::DuckDBFailure(_, Some(msg))) => {
            msg.starts_with("IO Error")
                || memory::out_of_memory(msg)
                || msg.contains("not a valid DuckDB database file")
        }
        _ => cause.is::<OutOfMemory>(),
    }
}

/// Sorts NULL first in ascending order, as SQLite does, so reports agree row for row; lets a
/// load's statements scan the batches it holds.
fn configure(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")?;
    conn.register_table_function::<ArrowVTab>("weir_batch")?;
    functions::register(conn)
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
        schema::declared_tables(script)
    }

    fn declared_in_turn(&self, scripts: &[&str]) -> Option<(Vec<Table>, Vec<usize>)> {
        schema::declared_in_turn(scripts)
    }

    fn tables(&self) -> anyhow::Result<Vec<Table>> {
        schema::read_tables(&self.conn).context("cannot read the tables of the database")
    }

    fn apply_schema(&mut self, drop: &[String], create: &[&Table]) -> anyhow::Result<()> {
        schema::apply(&mut self.conn, drop, create)
    }

    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>> {
        let load = merge::DuckLoad::begin(&self.conn, self.path.is_some(), self.load_memory)?;
        Ok(Box::new(load))
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
