//! DuckDB through the duckdb crate. Loading is bulk: each record's rows go through DuckDB's
//! Appender into staging tables inside the load's one transaction, and are merged in batches by a
//! few set statements per table, never one INSERT round-trip per row. The merge keeps SQLite's
//! rule exactly: per key, the staged copy with the newest version wins (the latest record among
//! equals, as if applied one by one), and it replaces the stored row only when its version is
//! newer or equal; its children replace the stored set.

use std::path::Path;

use anyhow::Context;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::{Appender, Connection, ToSql, appender_params_from_iter};

use super::{
    ChildSpec, Column, Counts, Engine, Kind, Load, QueryError, RowSink, SqlError, Table, Value,
    WriteSpec, quote,
};

/// Records staged per table before a merge: bounds the staging tables' memory on big loads.
const BATCH: usize = 50_000;

pub struct DuckDb {
    conn: Connection,
    path: Option<std::path::PathBuf>,
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
        })
    }
}

/// DuckDB says "IO Error" for a full disk, a missing permission, a locked or damaged file.
pub(super) fn is_resource_fault(cause: &(dyn std::error::Error + 'static)) -> bool {
    match cause.downcast_ref::<duckdb::Error>() {
        Some(duckdb::Error::DuckDBFailure(_, Some(msg))) => {
            msg.starts_with("IO Error") || msg.contains("not a valid DuckDB database file")
        }
        _ => false,
    }
}

/// Sorts NULL first in ascending order, as SQLite does, so reports agree row for row.
fn configure(conn: &Connection) -> duckdb::Result<()> {
    conn.execute_batch("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
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

fn read_tables(conn: &Connection) -> duckdb::Result<Vec<Table>> {
    let mut stmt = conn.prepare(
        "SELECT t.table_name, t.sql, \
                coalesce((SELECT list_aggr(c.constraint_column_names, 'string_agg', chr(31)) \
                          FROM duckdb_constraints() c \
                          WHERE c.table_oid = t.table_oid AND c.constraint_type = 'PRIMARY KEY'), '') \
         FROM duckdb_tables() t \
         WHERE t.database_name = current_database() AND t.schema_name = 'main' AND NOT t.temporary \
           AND t.table_name NOT LIKE 'weir\\_%' ESCAPE '\\' \
         ORDER BY t.table_oid",
    )?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for (name, sql, pk) in rows {
        let pk: Vec<&str> = pk.split('\u{1f}').filter(|s| !s.is_empty()).collect();
        let mut info =
            conn.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?) ORDER BY cid")?;
        let columns = info
            .query_map([&name], |r| {
                let name: String = r.get(0)?;
                let position = pk.iter().position(|k| *k == name).map_or(0, |p| p + 1);
                Ok(Column {
                    declared: r.get::<_, String>(1)?.to_uppercase(),
                    pk: position,
                    notnull: r.get(2)?,
                    name,
                })
            })?
            .collect::<Result<_, _>>()?;
        tables.push(Table { name, columns, sql });
    }
    Ok(tables)
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
            .ok();
        if let Some((kind, name)) = other {
            return Err(super::only_tables(&kind, &name));
        }
        read_tables(&scratch).map_err(sql_error)
    }

    fn tables(&self) -> anyhow::Result<Vec<Table>> {
        read_tables(&self.conn).context("cannot read the tables of the database")
    }

    fn apply_schema(&mut self, drop: &[String], create: &[String]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        for name in drop {
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
        }
        for sql in create {
            tx.execute_batch(sql)
                .with_context(|| format!("cannot run `{sql}`"))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>> {
        self.conn
            .execute_batch("BEGIN TRANSACTION")
            .context("cannot start a transaction")?;
        Ok(Box::new(DuckLoad {
            conn: &self.conn,
            stages: Vec::new(),
            seq: 0,
            row: 0,
            counts: Counts::default(),
            open: true,
        }))
    }

    fn read_only(&mut self) -> anyhow::Result<()> {
        // A database in memory has nothing a report could damage for later.
        if let Some(path) = self.path.clone() {
            *self = DuckDb::open(Some(&path), true)?;
        }
        Ok(())
    }

    fn check_query(&self, sql: &str) -> Result<(), SqlError> {
        self.conn.prepare(sql).map(|_| ()).map_err(sql_error)
    }

    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        let sql_err = |e: duckdb::Error| QueryError::Sql(sql_error(e));
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

    fn write_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        // `sql` is one checked statement (`report_statement`); prepare it alone first so a
        // mistake in it is reported as the query's, not the COPY's.
        self.conn
            .prepare(sql)
            .map_err(|e| QueryError::Sql(sql_error(e)))?;
        let query = sql;
        let target = path.to_string_lossy().replace('\'', "''");
        let copy = format!("COPY ({query}\n) TO '{target}' (FORMAT parquet)");
        self.conn
            .execute_batch(&copy)
            .map_err(|e| QueryError::Sql(sql_error(e)))
    }
}

/// The staging of one top table and its children.
struct Stage<'c> {
    spec: WriteSpec,
    child_specs: Vec<ChildSpec>,
    name: String,
    top: Appender<'c>,
    children: Vec<Appender<'c>>,
    pending: usize,
}

struct DuckLoad<'c> {
    conn: &'c Connection,
    stages: Vec<Stage<'c>>,
    /// The number of the record in this load: later records win ties, as in a one-by-one load.
    seq: i64,
    /// The number of the child row in this load: a later duplicate child key wins.
    row: i64,
    counts: Counts,
    open: bool,
}

fn key_names(spec: &WriteSpec) -> Vec<String> {
    spec.key.iter().map(|&k| spec.columns[k].clone()).collect()
}

fn cols(names: &[String], prefix: &str) -> String {
    names
        .iter()
        .map(|c| format!("{prefix}{}", quote(c)))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'c> DuckLoad<'c> {
    fn stage(&mut self, spec: &WriteSpec, child_specs: &[ChildSpec]) -> anyhow::Result<usize> {
        if let Some(i) = self.stages.iter().position(|s| s.spec.id == spec.id) {
            return Ok(i);
        }
        let name = format!("weir_stage_{}", self.stages.len());
        let key = key_names(spec);
        self.conn.execute_batch(&format!(
            "CREATE TABLE {} AS SELECT {}, CAST(0 AS BIGINT) AS _weir_seq FROM {} LIMIT 0;\n\
             CREATE TABLE {} AS SELECT {} FROM {} LIMIT 0;",
            quote(&name),
            cols(&spec.columns, ""),
            quote(&spec.table),
            quote(&format!("{name}_keys")),
            cols(&key, ""),
            quote(&spec.table)
        ))?;
        let mut children = Vec::new();
        for (j, child) in child_specs.iter().enumerate() {
            let child_name = format!("{name}_{j}");
            self.conn.execute_batch(&format!(
                "CREATE TABLE {} AS SELECT {}, CAST(0 AS BIGINT) AS _weir_seq, CAST(0 AS BIGINT) AS _weir_row FROM {} LIMIT 0",
                quote(&child_name),
                cols(&child.spec.columns, ""),
                quote(&child.spec.table)
            ))?;
            children.push(self.conn.appender(&child_name)?);
        }
        let top = self.conn.appender(&name)?;
        self.stages.push(Stage {
            spec: spec.clone(),
            child_specs: child_specs.to_vec(),
            name,
            top,
            children,
            pending: 0,
        });
        Ok(self.stages.len() - 1)
    }

    /// Merges one staging into the tables and empties it.
    fn merge(&mut self, i: usize) -> anyhow::Result<()> {
        let conn = self.conn;
        let stage = &mut self.stages[i];
        if stage.pending == 0 {
            return Ok(());
        }
        stage.top.flush()?;
        for a in &mut stage.children {
            a.flush()?;
        }
        let spec = &stage.spec;
        let table = quote(&spec.table);
        let staged = quote(&stage.name);
        let key: Vec<String> = spec.key.iter().map(|&k| quote(&spec.columns[k])).collect();
        let on: Vec<String> = key.iter().map(|k| format!("t.{k} = s.{k}")).collect();
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
        let mut sql = format!(
            "CREATE TEMP TABLE weir_win AS SELECT {}, s._weir_seq FROM \
               (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {order}) AS _weir_rank FROM {staged}) s \
             LEFT JOIN {table} t ON {} \
             WHERE s._weir_rank = 1 AND ({newer});\n",
            cols(&spec.columns, "s."),
            key.join(", "),
            on.join(" AND "),
        );
        for child in &stage.child_specs {
            let link = child.link_condition(spec, "w");
            sql.push_str(&format!(
                "DELETE FROM {} USING weir_win w WHERE {};\n",
                quote(&child.spec.table),
                link
            ));
        }
        let verb = if spec.columns.len() > spec.key.len() {
            "INSERT OR REPLACE"
        } else {
            "INSERT OR IGNORE"
        };
        sql.push_str(&format!(
            "{verb} INTO {table} ({0}) SELECT {0} FROM weir_win;\n",
            cols(&spec.columns, "")
        ));
        for (j, child) in stage.child_specs.iter().enumerate() {
            let names = cols(&child.spec.columns, "");
            let from = format!(
                "{} WHERE _weir_seq IN (SELECT _weir_seq FROM weir_win)",
                quote(&format!("{}_{j}", stage.name))
            );
            let insert = if child.spec.key.is_empty() {
                format!(
                    "INSERT INTO {} ({names}) SELECT {names} FROM {from};\n",
                    quote(&child.spec.table)
                )
            } else {
                let key: Vec<String> = child
                    .spec
                    .key
                    .iter()
                    .map(|&k| quote(&child.spec.columns[k]))
                    .collect();
                let verb = if child.spec.columns.len() > key.len() {
                    "INSERT OR REPLACE"
                } else {
                    "INSERT OR IGNORE"
                };
                format!(
                    "{verb} INTO {} ({names}) SELECT {names} FROM \
                       (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY _weir_row DESC) AS _weir_rank FROM {from}) \
                     WHERE _weir_rank = 1;\n",
                    quote(&child.spec.table),
                    key.join(", ")
                )
            };
            sql.push_str(&insert);
        }
        conn.execute_batch(&sql)
            .with_context(|| format!("cannot merge the rows of `{}`", spec.table))?;
        let written: i64 = conn.query_row("SELECT count(*) FROM weir_win", [], |r| r.get(0))?;
        // Keys already written by an earlier batch of this load: the record written then is
        // superseded now, so the counts are final outcomes, as on SQLite.
        let keys = quote(&format!("{}_keys", stage.name));
        let same: Vec<String> = key.iter().map(|k| format!("k.{k} = w.{k}")).collect();
        let replaced: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM weir_win w WHERE EXISTS (SELECT 1 FROM {keys} k WHERE {})",
                same.join(" AND ")
            ),
            [],
            |r| r.get(0),
        )?;
        let mut cleanup = format!(
            "INSERT INTO {keys} SELECT {} FROM weir_win w WHERE NOT EXISTS (SELECT 1 FROM {keys} k WHERE {});\n\
             DROP TABLE weir_win;\nDELETE FROM {staged};\n",
            cols(&key_names(spec), "w."),
            same.join(" AND ")
        );
        for j in 0..stage.child_specs.len() {
            cleanup.push_str(&format!(
                "DELETE FROM {};\n",
                quote(&format!("{}_{j}", stage.name))
            ));
        }
        conn.execute_batch(&cleanup)?;
        let written = usize::try_from(written).unwrap_or(0);
        let replaced = usize::try_from(replaced).unwrap_or(0);
        self.counts.written += written - replaced;
        self.counts.superseded += stage.pending - written + replaced;
        stage.pending = 0;
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
        let i = self.stage(spec, child_specs)?;
        self.seq += 1;
        let seq = Value::Integer(self.seq);
        let stage = &mut self.stages[i];
        stage
            .top
            .append_row(appender_params_from_iter(row.iter().chain([&seq])))
            .with_context(|| format!("cannot stage a row of `{}`", spec.table))?;
        for ((appender, rows), child) in stage.children.iter_mut().zip(children).zip(child_specs) {
            for r in rows {
                self.row += 1;
                let n = Value::Integer(self.row);
                appender
                    .append_row(appender_params_from_iter(r.iter().chain([&seq, &n])))
                    .with_context(|| format!("cannot stage a row of `{}`", child.spec.table))?;
            }
        }
        stage.pending += 1;
        if stage.pending >= BATCH {
            self.merge(i)?;
        }
        Ok(())
    }

    fn retain(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.flush()?;
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

    fn flush(&mut self) -> anyhow::Result<Counts> {
        for i in 0..self.stages.len() {
            self.merge(i)?;
        }
        Ok(std::mem::take(&mut self.counts))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .execute(duckdb::params_from_iter(params))?)
    }

    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
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

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.flush()?;
        let mut names: Vec<String> = Vec::new();
        for s in &self.stages {
            names.push(s.name.clone());
            names.push(format!("{}_keys", s.name));
            names.extend((0..s.children.len()).map(|j| format!("{}_{j}", s.name)));
        }
        // Appenders hold the staging tables open; close them before dropping the tables.
        self.stages.clear();
        let mut sql: String = names
            .iter()
            .map(|n| format!("DROP TABLE {};\n", quote(n)))
            .collect();
        sql.push_str("COMMIT;");
        self.conn
            .execute_batch(&sql)
            .context("cannot commit the load")?;
        self.open = false;
        Ok(())
    }
}

impl Drop for DuckLoad<'_> {
    fn drop(&mut self) {
        if self.open {
            self.stages.clear();
            // Nothing of an unfinished load may remain; a failed rollback leaves the
            // transaction to be discarded with the connection.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}
