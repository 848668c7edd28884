//! SQLite through rusqlite: upserts by key with a version check, children replaced as a set,
//! one transaction per load.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::ToSql;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use super::{
    ChildSpec, Column, Counts, Engine, Index, Kind, Load, QueryError, RowIds, RowSink, SqlError,
    Table, Value, WriteSpec, quote,
};

pub struct Sqlite {
    conn: Connection,
    /// SQLite's authorizer, once `read_only` ran: on while a report is prepared.
    guard: Arc<ReportGuard>,
}

/// While `on`, every action but reading is refused, and the first one refused is kept for the
/// message. Off, weir's own reads (the schema check's pragmas, say) pass.
#[derive(Default)]
struct ReportGuard {
    on: AtomicBool,
    refused: Mutex<Option<String>>,
}

impl Sqlite {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open the database `{}`", path.display()))?;
        // WAL lets report readers run beside a writer; NORMAL sync is durable at each commit
        // in WAL mode on everything but power loss.
        conn.pragma_update(None, "journal_mode", "WAL")
            .with_context(|| format!("`{}` is not a usable SQLite database", path.display()))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        super::functions::register_sqlite(&conn)?;
        Ok(Sqlite {
            conn,
            guard: Arc::default(),
        })
    }

    pub fn in_memory() -> anyhow::Result<Self> {
        let conn = Connection::open_in_memory()?;
        super::functions::register_sqlite(&conn)?;
        Ok(Sqlite {
            conn,
            guard: Arc::default(),
        })
    }

    /// A report prepared as one statement that only reads. rusqlite refuses a second statement
    /// (`MultipleStatement`); once `read_only` ran, SQLite's authorizer refuses every action
    /// but reading (ATTACH, PRAGMA and transactions too); a statement SQLite says writes, or one
    /// that returns no columns (BEGIN, say), is refused here either way.
    fn report(&self, sql: &str) -> Result<rusqlite::Statement<'_>, SqlError> {
        if let Ok(mut refused) = self.guard.refused.lock() {
            *refused = None;
        }
        self.guard.on.store(true, Ordering::SeqCst);
        let prepared = self.conn.prepare(sql);
        self.guard.on.store(false, Ordering::SeqCst);
        let stmt = prepared.map_err(|e| self.report_error(e))?;
        if !stmt.readonly() || stmt.column_count() == 0 {
            return Err(super::must_only_read());
        }
        Ok(stmt)
    }

    fn report_error(&self, e: rusqlite::Error) -> SqlError {
        let refused = self
            .guard
            .refused
            .lock()
            .map(|mut r| r.take())
            .unwrap_or_default();
        match (e, refused) {
            (rusqlite::Error::MultipleStatement, _) => super::one_statement(),
            (rusqlite::Error::SqliteFailure(f, _), Some(action))
                if f.code == rusqlite::ErrorCode::AuthorizationForStatementDenied =>
            {
                let message = super::must_only_read().message;
                SqlError {
                    message: format!("{message} (SQLite refuses its `{action}`)"),
                    offset: None,
                }
            }
            (e, _) => sql_error(e),
        }
    }
}

/// Lets a report's statement read tables and call functions, nothing else; remembers the
/// first other action it asks for.
fn only_reading(guard: &ReportGuard, ctx: AuthContext<'_>) -> Authorization {
    if !guard.on.load(Ordering::SeqCst) {
        return Authorization::Allow;
    }
    match ctx.action {
        AuthAction::Select
        | AuthAction::Read { .. }
        | AuthAction::Function { .. }
        | AuthAction::Recursive => Authorization::Allow,
        other => {
            let action = format!("{other:?}");
            let name = action.split([' ', '{', '(']).next().unwrap_or_default();
            if let Ok(mut r) = guard.refused.lock() {
                r.get_or_insert_with(|| name.to_string());
            }
            Authorization::Deny
        }
    }
}

/// A full disk, a read-only or locked file, a file that is not a database.
pub(super) fn is_resource_fault(cause: &(dyn std::error::Error + 'static)) -> bool {
    use rusqlite::ErrorCode as C;
    match cause.downcast_ref::<rusqlite::Error>() {
        Some(rusqlite::Error::SqliteFailure(e, _)) => matches!(
            e.code,
            C::DiskFull
                | C::ReadOnly
                | C::NotADatabase
                | C::DatabaseCorrupt
                | C::CannotOpen
                | C::DatabaseBusy
                | C::DatabaseLocked
                | C::PermissionDenied
                | C::SystemIoFailure
        ),
        _ => false,
    }
}

fn read_tables(conn: &Connection) -> rusqlite::Result<Vec<Table>> {
    read_tables_with(conn, false)
}

/// The tables a script of plain CREATE TABLE statements declares, weir's own among them: how
/// an engine without SQLite's dialect (ClickHouse) reads schema files and weir's bookkeeping.
pub(crate) fn parse_tables(script: &str, with_weir: bool) -> Result<Vec<Table>, SqlError> {
    let scratch = Connection::open_in_memory().map_err(sql_error)?;
    scratch.execute_batch(script).map_err(sql_error)?;
    read_tables_with(&scratch, with_weir).map_err(sql_error)
}

fn read_tables_with(conn: &Connection, with_weir: bool) -> rusqlite::Result<Vec<Table>> {
    let weir = if with_weir {
        ""
    } else {
        " AND name NOT LIKE 'weir\\_%' ESCAPE '\\'"
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'{weir} ORDER BY rowid"
    ))?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for (name, sql) in rows {
        let mut info = conn.prepare(
            "SELECT name, type, pk, \"notnull\", dflt_value FROM pragma_table_info(?1) ORDER BY cid",
        )?;
        let columns = info
            .query_map([&name], |r| {
                Ok(Column {
                    name: r.get(0)?,
                    declared: r.get::<_, String>(1)?.to_uppercase(),
                    pk: r.get::<_, i64>(2)? as usize,
                    notnull: r.get::<_, i64>(3)? != 0,
                    default: r.get(4)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        let checks = super::check_constraints(&sql);
        tables.push(Table {
            name,
            columns,
            checks,
            sql,
            indexes: Vec::new(),
        });
    }
    // Indexes a schema declared (SQLite's own, for keys, have no statement).
    let mut stmt = conn.prepare(
        "SELECT tbl_name, name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL \
         ORDER BY rowid",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (table, name, sql) = row?;
        if let Some(t) = tables.iter_mut().find(|t| t.name == table) {
            t.indexes.push(Index { name, sql });
        }
    }
    Ok(tables)
}

/// Runs `script` on `scratch` and reads the tables there, refusing what weir cannot keep.
fn declared(scratch: &Connection, script: &str) -> Result<Vec<Table>, SqlError> {
    scratch.execute_batch(script).map_err(|e| {
        // execute_batch reports the offset into the statements it had left; they end the script.
        let tail = match &e {
            rusqlite::Error::SqlInputError { sql, .. } => sql.len(),
            _ => 0,
        };
        let mut err = sql_error(e);
        err.offset = err.offset.map(|o| o + script.len().saturating_sub(tail));
        err
    })?;
    let other: Option<(String, String)> = scratch
        .query_row(
            "SELECT type, name FROM sqlite_schema \
             WHERE type NOT IN ('table', 'index') AND sql IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql_error)?;
    if let Some((kind, name)) = other {
        return Err(super::only_tables(&kind, &name));
    }
    let tables = read_tables(scratch).map_err(sql_error)?;
    // Loads find the row an upsert wrote by its rowid (for the books).
    if let Some(t) = tables
        .iter()
        .find(|t| t.sql.to_ascii_uppercase().contains("WITHOUT ROWID"))
    {
        return Err(SqlError {
            message: format!(
                "table `{}` is WITHOUT ROWID, which weir's loads do not support; remove `WITHOUT ROWID`",
                t.name
            ),
            offset: None,
        });
    }
    Ok(tables)
}

/// rusqlite's message without the SQL text it quotes; the offset is kept apart.
fn sql_error(e: rusqlite::Error) -> SqlError {
    match e {
        rusqlite::Error::SqlInputError { msg, offset, .. } => SqlError {
            message: msg,
            offset: usize::try_from(offset).ok(),
        },
        rusqlite::Error::SqliteFailure(_, Some(msg)) => SqlError {
            message: msg,
            offset: None,
        },
        other => SqlError {
            message: other.to_string(),
            offset: None,
        },
    }
}

fn value(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Text(String::from_utf8_lossy(b).into_owned()),
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

impl Engine for Sqlite {
    fn kind(&self) -> Kind {
        Kind::Sqlite
    }

    fn declared_tables(&self, script: &str) -> Result<Vec<Table>, SqlError> {
        let scratch = Connection::open_in_memory().map_err(sql_error)?;
        declared(&scratch, script)
    }

    fn declared_in_turn(&self, scripts: &[&str]) -> Option<(Vec<Table>, Vec<usize>)> {
        let scratch = Connection::open_in_memory().ok()?;
        super::declared_in_turn(
            scripts,
            |script| scratch.execute_batch(script).ok(),
            || {
                scratch
                    .query_row(
                        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' \
                         AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE 'weir\\_%' ESCAPE '\\'",
                        [],
                        |r| r.get::<_, i64>(0).map(|n| n as usize),
                    )
                    .ok()
            },
            |script| declared(&scratch, script).ok(),
        )
    }

    fn tables(&self) -> anyhow::Result<Vec<Table>> {
        read_tables(&self.conn).context("cannot read the tables of the database")
    }

    fn apply_schema(&mut self, drop: &[String], create: &[&Table]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        for name in drop {
            tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
        }
        for t in create {
            tx.execute_batch(&t.sql)
                .with_context(|| format!("cannot run `{}`", t.sql))?;
            for index in &t.indexes {
                tx.execute_batch(&index.sql)
                    .with_context(|| format!("cannot run `{}`", index.sql))?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn apply_indexes(&mut self, drop: &[String], create: &[&Index]) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        for name in drop {
            tx.execute_batch(&format!("DROP INDEX IF EXISTS {}", quote(name)))?;
        }
        for index in create {
            tx.execute_batch(&index.sql)
                .with_context(|| format!("cannot run `{}`", index.sql))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>> {
        let tx = self
            .conn
            .transaction()
            .context("cannot start a transaction")?;
        Ok(Box::new(SqliteLoad {
            tx,
            sql: HashMap::new(),
            counts: Counts::default(),
            written: HashMap::new(),
        }))
    }

    fn read_only(&mut self) -> anyhow::Result<()> {
        self.conn.pragma_update(None, "query_only", true)?;
        let guard = Arc::clone(&self.guard);
        self.conn
            .authorizer(Some(move |ctx: AuthContext<'_>| only_reading(&guard, ctx)))?;
        Ok(())
    }

    fn check_query(&self, sql: &str) -> Result<(), SqlError> {
        self.report(sql).map(|_| ())
    }

    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        let sql_err = |e: rusqlite::Error| QueryError::Sql(sql_error(e));
        let mut stmt = self.report(sql).map_err(QueryError::Sql)?;
        let names: Vec<String> = stmt.column_names().map(String::from).collect();
        sink.header(&names).map_err(QueryError::Sink)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        let mut values = Vec::with_capacity(names.len());
        while let Some(row) = rows.next().map_err(sql_err)? {
            values.clear();
            for i in 0..names.len() {
                values.push(value(row.get_ref(i).map_err(sql_err)?));
            }
            sink.row(&values).map_err(QueryError::Sink)?;
        }
        Ok(())
    }
}

struct SqliteLoad<'c> {
    tx: rusqlite::Transaction<'c>,
    /// The statements of each top table, built once per load rather than once per row.
    sql: HashMap<usize, Statements>,
    counts: Counts,
    /// Per table, the rowids written in this load (by any of its writers): a record that
    /// replaces one loaded earlier in the same load makes that one superseded, so the counts are
    /// final outcomes. A bit per row keeps this flat.
    written: HashMap<String, RowIds>,
}

struct Statements {
    /// Returns the rowid of the row it wrote, none when the stored version was newer.
    upsert: String,
    /// (delete the stored set, insert a row) per child table.
    children: Vec<(String, String)>,
}

impl Statements {
    fn new(spec: &WriteSpec, child_specs: &[ChildSpec]) -> Self {
        let children = child_specs
            .iter()
            .map(|child| {
                let cols = &child.spec.columns;
                let table = quote(&child.spec.table);
                let cond: Vec<String> = child
                    .link
                    .iter()
                    .map(|&(c, _)| format!("{} = ?", quote(&cols[c])))
                    .collect();
                let names: Vec<String> = cols.iter().map(|c| quote(c)).collect();
                (
                    format!("DELETE FROM {table} WHERE {}", cond.join(" AND ")),
                    format!(
                        "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
                        names.join(", "),
                        vec!["?"; cols.len()].join(", ")
                    ),
                )
            })
            .collect();
        Statements {
            upsert: upsert_sql(spec),
            children,
        }
    }
}

/// `INSERT … ON CONFLICT (key) DO UPDATE … WHERE <the new version is newer or equal>`.
/// A NULL version is older than any other, and equal to another NULL.
fn upsert_sql(spec: &WriteSpec) -> String {
    let cols: Vec<String> = spec.columns.iter().map(|c| quote(c)).collect();
    let marks = vec!["?"; cols.len()].join(", ");
    let key: Vec<&str> = spec.key.iter().map(|&i| cols[i].as_str()).collect();
    let mut set: Vec<String> = (0..cols.len())
        .filter(|i| !spec.key.contains(i))
        .map(|i| format!("{0} = excluded.{0}", cols[i]))
        .collect();
    if set.is_empty() {
        // Every column is key: a no-op update still counts as written, so children follow.
        set.push(format!("{0} = excluded.{0}", key[0]));
    }
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ({marks}) ON CONFLICT ({}) DO UPDATE SET {}",
        quote(&spec.table),
        cols.join(", "),
        key.join(", "),
        set.join(", ")
    );
    if let Some(v) = spec.version {
        let v = &cols[v];
        sql.push_str(&format!(
            " WHERE {t}.{v} IS NULL OR excluded.{v} >= {t}.{v}",
            t = quote(&spec.table)
        ));
    }
    sql.push_str(" RETURNING rowid");
    sql
}

impl Load for SqliteLoad<'_> {
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        let sql = self
            .sql
            .entry(spec.id)
            .or_insert_with(|| Statements::new(spec, child_specs));
        let rowid: Option<i64> = self
            .tx
            .prepare_cached(&sql.upsert)?
            .query_row(params_from_iter(row), |r| r.get(0))
            .optional()
            .with_context(|| format!("cannot write a row of `{}`", spec.table))?;
        let Some(rowid) = rowid else {
            self.counts.superseded += 1;
            return Ok(());
        };
        // A record that replaces one loaded earlier in this load: that one is superseded, and
        // this one takes its place among the written.
        if !self.written.contains_key(&spec.table) {
            self.written.insert(spec.table.clone(), RowIds::default());
        }
        let replaced = self
            .written
            .get_mut(&spec.table)
            .expect("added")
            .insert(rowid);
        for ((child, rows), (delete, insert)) in child_specs.iter().zip(children).zip(&sql.children)
        {
            self.tx
                .prepare_cached(delete)?
                .execute(params_from_iter(child.link.iter().map(|&(_, p)| &row[p])))?;
            let mut stmt = self.tx.prepare_cached(insert)?;
            for r in rows {
                stmt.execute(params_from_iter(r))
                    .with_context(|| format!("cannot write a row of `{}`", child.spec.table))?;
            }
        }
        if replaced {
            self.counts.superseded += 1;
        } else {
            self.counts.written += 1;
        }
        Ok(())
    }

    fn retain(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        let sql = super::retain_sql(spec, child_specs);
        self.tx.execute_batch(&sql.create)?;
        let mut insert = self.tx.prepare(&sql.insert)?;
        for k in keys {
            insert.execute(params_from_iter(k))?;
        }
        let removed = sql.delete_with(|delete| Ok(self.tx.execute(delete, [])?))?;
        self.tx.execute_batch(&sql.drop)?;
        Ok(removed)
    }

    fn flush(&mut self) -> anyhow::Result<Counts> {
        Ok(std::mem::take(&mut self.counts))
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        Ok(self
            .tx
            .prepare_cached(sql)?
            .execute(params_from_iter(params))?)
    }

    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut stmt = self.tx.prepare_cached(sql)?;
        let n = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(
                (0..n)
                    .map(|i| row.get_ref(i).map(value))
                    .collect::<rusqlite::Result<_>>()?,
            );
        }
        Ok(out)
    }

    fn commit(self: Box<Self>) -> anyhow::Result<()> {
        self.tx.commit().context("cannot commit the load")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Rows, WRITING_REPORTS};

    #[test]
    fn a_report_reads_one_statement_and_nothing_else() {
        let mut engine = Sqlite::in_memory().unwrap();
        engine
            .conn
            .execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        engine.read_only().unwrap();
        for sql in [
            "SELECT count(*) FROM t;\n-- the end\n",
            "WITH x AS (SELECT ';') SELECT * FROM x",
            "VALUES (1)",
            "SELECT value FROM json_each('[1, 2]')",
        ] {
            engine
                .check_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            engine.query(sql, &mut Rows::default()).unwrap();
        }
        for sql in WRITING_REPORTS
            .iter()
            .chain(&["PRAGMA query_only = 0", "DETACH main"])
        {
            assert!(engine.check_query(sql).is_err(), "{sql}");
            assert!(engine.query(sql, &mut Rows::default()).is_err(), "{sql}");
        }
        let e = engine
            .check_query("ATTACH 'attached.db' AS other")
            .unwrap_err();
        assert!(
            e.message.starts_with("a report must only read"),
            "{}",
            e.message
        );
        assert!(
            e.message.ends_with("(SQLite refuses its `Attach`)"),
            "{}",
            e.message
        );
        let e = engine.check_query("SELECT 1; SELECT 2").unwrap_err();
        assert!(
            e.message.starts_with("a report holds one statement"),
            "{}",
            e.message
        );
        let mut rows = Rows::default();
        engine.query("SELECT count(*) FROM t", &mut rows).unwrap();
        assert_eq!(rows.0, [[Value::Integer(2)]]);
        assert!(!std::path::Path::new("attached.db").exists());
    }
}
