//! The database behind one small trait. Only this folder names rusqlite and duckdb;
//! mappers, the loader and reports speak `Value`, `Table` and `WriteSpec`.

pub mod clickhouse;
#[cfg(feature = "duckdb")]
mod duckdb;
pub mod functions;
pub mod history;
mod sql_text;
mod sqlite;

use std::collections::HashSet;
use std::path::Path;

use fixedbitset::FixedBitSet;

pub use self::clickhouse::ClickHouse;
#[cfg(feature = "duckdb")]
pub use self::duckdb::DuckDb;
pub(crate) use sql_text::skip_blank;
pub use sql_text::{check_constraints, without_primary_key};
pub use sqlite::Sqlite;

/// The engines weir knows, whether or not this build has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    DuckDb,
    /// A ClickHouse server or cluster, over HTTP: no file.
    ClickHouse,
}

impl Kind {
    pub const NAMES: [&'static str; 3] = ["sqlite", "duckdb", "clickhouse"];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::DuckDb => "duckdb",
            Kind::ClickHouse => "clickhouse",
        }
    }

    pub fn parse(name: &str) -> Option<Kind> {
        match name.to_ascii_lowercase().as_str() {
            "sqlite" => Some(Kind::Sqlite),
            "duckdb" => Some(Kind::DuckDb),
            "clickhouse" => Some(Kind::ClickHouse),
            _ => None,
        }
    }

    /// The file extension of its database files (ClickHouse has none: its `--db` is a URL).
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::DuckDb => "duckdb",
            Kind::ClickHouse => "clickhouse",
        }
    }

    /// Whether this build of weir includes the engine.
    pub fn available(self) -> bool {
        match self {
            Kind::Sqlite | Kind::ClickHouse => true,
            Kind::DuckDb => cfg!(feature = "duckdb"),
        }
    }
}

/// A value on its way into or out of the database. Booleans are stored as 0/1.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

/// A column as the database (or a schema file) declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The declared type, upper-cased (`TEXT`, `BIGINT`, …).
    pub declared: String,
    /// 1-based position in the primary key, 0 when not part of it.
    pub pk: usize,
    /// Declared NOT NULL.
    pub notnull: bool,
    /// The DEFAULT expression, as the database reports it.
    pub default: Option<String>,
}

/// A CHECK constraint as the database (or a schema file) declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The columns it constrains, where the engine tells (a column's own CHECK names it).
    pub columns: Vec<String>,
    /// Its expression, blanks and comments folded to single spaces.
    pub expression: String,
}

/// A table as the database (or a schema file) declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub checks: Vec<Check>,
    /// The statement that creates it, as the schema file wrote it.
    pub sql: String,
    /// Its indexes (`CREATE INDEX` in schemas/), on the engines that build them.
    pub indexes: Vec<Index>,
}

/// A `CREATE INDEX` of schemas/: its name and its statement as the engine keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub sql: String,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Primary-key column names in key order.
    pub fn primary_key(&self) -> Vec<&str> {
        let mut pk: Vec<&Column> = self.columns.iter().filter(|c| c.pk > 0).collect();
        pk.sort_by_key(|c| c.pk);
        pk.into_iter().map(|c| c.name.as_str()).collect()
    }
}

/// How rows of one table are written: its columns in row order, key and version.
#[derive(Debug, Clone)]
pub struct WriteSpec {
    /// Tells apart the mappers that write one table (with other columns, say): engines keep
    /// their prepared statements and held rows per writer.
    pub id: usize,
    pub table: String,
    pub columns: Vec<String>,
    /// Indexes into `columns`.
    pub key: Vec<usize>,
    pub version: Option<usize>,
}

/// A child table: rows replace the stored set that `link` names.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    pub spec: WriteSpec,
    /// (child column index, parent column index) pairs that tie a child row to its parent.
    pub link: Vec<(usize, usize)>,
}

impl ChildSpec {
    /// `child.c = parent.p AND …`: a child row belongs to the parent row `parent` names (a table
    /// or an alias) of a table written by `parent_spec`.
    pub fn link_condition(&self, parent_spec: &WriteSpec, parent: &str) -> String {
        let child = quote(&self.spec.table);
        let parts: Vec<String> = self
            .link
            .iter()
            .map(|&(c, p)| {
                format!(
                    "{child}.{} = {parent}.{}",
                    quote(&self.spec.columns[c]),
                    quote(&parent_spec.columns[p])
                )
            })
            .collect();
        parts.join(" AND ")
    }
}

/// What became of the records written since the last flush.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records whose row is stored at the end of the load: inserted, or replaced an older or
    /// equal stored version and was not itself replaced later in the same load.
    pub written: usize,
    /// Records that lost to a newer version, stored or loaded in the same load (or to a later
    /// record of equal version); nothing of them remains.
    pub superseded: usize,
}

/// A set of row ids, a bit each while they are dense from 0 (as weir's tables number their
/// rows: 125 KB per million); one set far out (a row a user numbered by hand) is kept apart, so
/// it costs no more than itself.
#[derive(Default)]
pub(crate) struct RowIds {
    dense: FixedBitSet,
    sparse: HashSet<i64>,
}

/// Row ids below this are bits: at most 32 MiB of them.
const DENSE_ROW_IDS: i64 = 1 << 28;

impl RowIds {
    /// Adds `id`; says whether it was there already.
    pub(crate) fn insert(&mut self, id: i64) -> bool {
        match usize::try_from(id) {
            Ok(bit) if id < DENSE_ROW_IDS => {
                if bit >= self.dense.len() {
                    self.dense.grow((bit + 1).next_power_of_two());
                }
                self.dense.put(bit)
            }
            _ => !self.sparse.insert(id),
        }
    }

    #[cfg_attr(not(feature = "duckdb"), allow(dead_code))]
    pub(crate) fn contains(&self, id: i64) -> bool {
        match usize::try_from(id) {
            Ok(bit) if id < DENSE_ROW_IDS => self.dense.contains(bit),
            _ => self.sparse.contains(&id),
        }
    }
}

/// Receives a query's result row by row.
pub trait RowSink {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()>;
    fn row(&mut self, values: &[Value]) -> anyhow::Result<()>;
}

/// A result held whole: its column names and every row (a report page, a check's failures).
#[derive(Debug, Default)]
pub struct Collected {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl RowSink for Collected {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        self.rows.push(values.to_vec());
        Ok(())
    }
}

/// `Engine::declared_in_turn` on a scratch database: `run` runs each script but the last,
/// `count` counts the tables there after each, and `last` runs the last and reads every table.
pub(crate) fn declared_in_turn(
    scripts: &[&str],
    mut run: impl FnMut(&str) -> Option<()>,
    mut count: impl FnMut() -> Option<usize>,
    last: impl FnOnce(&str) -> Option<Vec<Table>>,
) -> Option<(Vec<Table>, Vec<usize>)> {
    let (final_script, before) = scripts.split_last()?;
    let mut counts = Vec::with_capacity(scripts.len());
    for script in before {
        run(script)?;
        counts.push(count()?);
    }
    let tables = last(final_script)?;
    counts.push(tables.len());
    Some((tables, counts))
}

/// An embedded database.
pub trait Engine {
    fn kind(&self) -> Kind;

    /// The tables a schema script declares, read by running it on a scratch database of the same
    /// kind. An error is the database's own message about the script.
    fn declared_tables(&self, script: &str) -> Result<Vec<Table>, SqlError>;

    /// The tables of `scripts` run one after another on one scratch database, with how many
    /// tables there are after each script: what `declared_tables` of each prefix would say, at
    /// the cost of one run. `None` when the engine refuses any of it (or has no such pass): the
    /// caller then asks `declared_tables` file by file, which places the refusal.
    fn declared_in_turn(&self, _scripts: &[&str]) -> Option<(Vec<Table>, Vec<usize>)> {
        None
    }

    /// The tables in the database now (weir's own bookkeeping tables excluded).
    fn tables(&self) -> anyhow::Result<Vec<Table>>;

    /// Creates the tables `create` declares (each by its `sql`, which an engine may adapt: DuckDB
    /// keeps the key itself instead of a primary-key index); drops `drop` first. All or nothing.
    fn apply_schema(&mut self, drop: &[String], create: &[&Table]) -> anyhow::Result<()>;

    /// Drops the indexes `drop` and creates `create` (statements) on tables that stay: an
    /// index is made from the rows, so adding or changing one loses nothing. All or nothing.
    fn apply_indexes(&mut self, drop: &[String], create: &[&Index]) -> anyhow::Result<()> {
        anyhow::ensure!(
            drop.is_empty() && create.is_empty(),
            "this engine builds no indexes"
        );
        Ok(())
    }

    /// Starts the one transaction of a load.
    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>>;

    /// Checks that a report is one statement that only reads, as the engine's own parser sees
    /// it, and that it compiles against the tables; the error is the database's message.
    fn check_query(&self, sql: &str) -> Result<(), SqlError>;

    /// Runs a report: one statement that only reads (checked as `check_query` does, before any
    /// of it runs). Errors in the query text come back as `Err(QueryError::Sql)`.
    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError>;

    /// From now on refuses every change, whatever SQL it is given: for running reports after a
    /// load, in a file or in memory.
    fn read_only(&mut self) -> anyhow::Result<()>;

    /// Writes a report's result as a Parquet file, where the engine can.
    fn write_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        let _ = (sql, path);
        Err(QueryError::Unsupported(format!(
            "the {} engine cannot write Parquet; run with `--engine duckdb`",
            self.kind().name()
        )))
    }
}

/// The database refused rows an engine held back and merged together: the fault is in one of the
/// records since the last merge, not necessarily the record whose write set the merge off.
#[derive(Debug, thiserror::Error)]
#[error("cannot merge the rows of `{0}` held since the last merge")]
pub struct MergeRefused(pub String);

/// The database's complaint about SQL text, and where in the text it points when it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    pub message: String,
    /// Byte offset into the SQL text.
    pub offset: Option<usize>,
}

impl SqlError {
    /// 1-based line and column of the offset in `sql`, when the offset lies in it.
    pub fn line_col(&self, sql: &str) -> Option<(usize, usize)> {
        let offset = self.offset?;
        let before = sql.get(..offset)?;
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        Some((line, col))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{}", .0.message)]
    Sql(SqlError),
    #[error(transparent)]
    Sink(anyhow::Error),
    #[error("{0}")]
    Unsupported(String),
}

/// A report that would write, or do anything but read, in any of its statements.
pub(crate) fn must_only_read() -> SqlError {
    SqlError {
        message:
            "a report must only read, in one statement: start it with SELECT or WITH, and split \
                  any other statement into its own file"
                .into(),
        offset: None,
    }
}

/// A report with more than one statement: engines would run all but the last while preparing.
pub(crate) fn one_statement() -> SqlError {
    SqlError {
        message: "a report holds one statement; split the others into their own files".into(),
        offset: None,
    }
}

impl From<SqlError> for QueryError {
    fn from(e: SqlError) -> Self {
        QueryError::Sql(e)
    }
}

/// The message for a schema script that makes more than tables: weir recreates tables from
/// what the database reports, and would silently leave the rest out.
pub fn only_tables(kind: &str, name: &str) -> SqlError {
    SqlError {
        message: format!(
            "schemas/ may only create tables for now; the {kind} `{name}` would not be applied"
        ),
        offset: None,
    }
}

/// One load: records in, then commit. Dropping it without `commit` rolls everything back.
pub trait Load {
    /// Writes a record's row and, when it wins, replaces its children (`children[i]` holds the
    /// rows of `child_specs[i]`). An engine may hold rows back until `flush`.
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()>;

    /// Applies what is held back and says what became of the records since the last flush.
    fn flush(&mut self) -> anyhow::Result<Counts>;

    /// Deletes the rows of `spec`'s table whose key is not in `keys`, and their children: for a
    /// source whose files hold every record (`complete: true`). Returns how many rows went.
    fn retain(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize>;

    /// Runs one bookkeeping statement (weir's own `weir_*` tables, or the set statements that
    /// keep a history table, `history`) inside the load; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize>;

    /// Reads bookkeeping rows inside the load.
    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>>;

    fn commit(self: Box<Self>) -> anyhow::Result<()>;

    /// `history: true`: the engine keeps `history` (the history table of `spec`'s table) for
    /// the records `spec` writes from now on itself (true), or leaves it to the statements of
    /// `engine::history` that the load runs through `execute` (false).
    fn keep_history(&mut self, _spec: &WriteSpec, _history: &str) -> anyhow::Result<bool> {
        Ok(false)
    }

    /// Whether several project folders may load into this database at once (a shared
    /// warehouse): each folder then keeps its own ledger of files.
    fn shared(&self) -> bool {
        false
    }

    /// The number of this load, where the engine gives each load its own (a shared warehouse:
    /// two writers must never share one); else run-etl numbers loads one after the last.
    fn own_load_id(&self) -> Option<i64> {
        None
    }
}

/// Opens a database of `kind`: the file `db`, or one in memory. A `read_only` one refuses every
/// change, whatever SQL it is given (reports run on such a connection). `load_memory` caps what
/// DuckDB may use while loading into a file (`None`: sized from the tables a load writes).
pub fn open(
    kind: Kind,
    db: Option<&Path>,
    read_only: bool,
    load_memory: Option<u64>,
) -> anyhow::Result<Box<dyn Engine>> {
    Ok(match kind {
        Kind::Sqlite => {
            let mut engine = match db {
                Some(path) => Sqlite::open(path)?,
                None => Sqlite::in_memory()?,
            };
            if read_only {
                engine.read_only()?;
            }
            Box::new(engine)
        }
        #[cfg(feature = "duckdb")]
        Kind::DuckDb => Box::new(DuckDb::open(db, read_only)?.load_memory(load_memory)),
        #[cfg(not(feature = "duckdb"))]
        Kind::DuckDb => {
            let _ = load_memory;
            anyhow::bail!("this build of weir has no DuckDB")
        }
        // A scratch database for a ClickHouse project (reading schema files, say): they are
        // written in the dialect weir reads with SQLite. The warehouse is `open_server`'s.
        Kind::ClickHouse => Box::new(Sqlite::in_memory()?),
    })
}

/// Opens the ClickHouse warehouse `server` names.
pub fn open_server(
    server: &clickhouse::server::Server,
    read_only: bool,
) -> anyhow::Result<Box<dyn Engine>> {
    Ok(Box::new(ClickHouse::open(server, read_only)?))
}

/// The statements of `Load::retain`, the same on every engine: make the keep-list table, fill it
/// (one row of key values per `?`), delete the other rows and then the children left without a
/// parent, drop the keep-list.
pub struct RetainSql {
    pub create: String,
    pub insert: String,
    pub delete: Vec<String>,
    pub drop: String,
}

impl RetainSql {
    /// Runs the DELETEs with `execute`; returns the rows of the table itself that went (the
    /// first DELETE's count; the others remove children).
    pub fn delete_with(
        &self,
        mut execute: impl FnMut(&str) -> anyhow::Result<usize>,
    ) -> anyhow::Result<usize> {
        let mut removed = 0;
        for (i, delete) in self.delete.iter().enumerate() {
            let n = execute(delete)?;
            if i == 0 {
                removed = n;
            }
        }
        Ok(removed)
    }
}

pub fn retain_sql(spec: &WriteSpec, child_specs: &[ChildSpec]) -> RetainSql {
    let table = quote(&spec.table);
    let key: Vec<String> = spec.key.iter().map(|&k| quote(&spec.columns[k])).collect();
    let same: Vec<String> = key.iter().map(|k| format!("k.{k} = {table}.{k}")).collect();
    let mut delete = vec![format!(
        "DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM weir_keep k WHERE {})",
        same.join(" AND ")
    )];
    for child in child_specs {
        let c = quote(&child.spec.table);
        let link = child.link_condition(spec, &table);
        delete.push(format!(
            "DELETE FROM {c} WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {})",
            link
        ));
    }
    RetainSql {
        create: format!(
            "CREATE TEMP TABLE weir_keep AS SELECT {} FROM {table} LIMIT 0",
            key.join(", ")
        ),
        insert: format!(
            "INSERT INTO weir_keep VALUES ({})",
            vec!["?"; key.len()].join(", ")
        ),
        delete,
        drop: "DROP TABLE weir_keep".into(),
    }
}

/// Whether `e` is the machine refusing rather than weir failing: an I/O error such as a full
/// disk, a read-only folder or a missing permission, or a database that is busy, read-only, full
/// or not a database at all.
pub fn is_resource_fault(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind as K;
    e.chain().any(|cause| {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                K::PermissionDenied
                    | K::NotFound
                    | K::StorageFull
                    | K::ReadOnlyFilesystem
                    | K::QuotaExceeded
                    | K::IsADirectory
                    | K::NotADirectory
                    | K::FileTooLarge
                    | K::AlreadyExists
            ) || io.raw_os_error() == Some(28); // ENOSPC, however the kind maps
        }
        if sqlite::is_resource_fault(cause) {
            return true;
        }
        // A ClickHouse server that refuses the user or cannot be reached.
        if let Some(f) = cause.downcast_ref::<clickhouse::server::Fault>() {
            return !matches!(f, clickhouse::server::Fault::Sql(_));
        }
        #[cfg(feature = "duckdb")]
        if duckdb::is_resource_fault(cause) {
            return true;
        }
        false
    })
}

/// Quotes an identifier for SQL. Names come from schema files and mappers; quoting keeps a
/// name that happens to be a keyword (`at`, `type`) working on every engine.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A sink that keeps the rows, for tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Rows(pub Vec<Vec<Value>>);

#[cfg(test)]
impl RowSink for Rows {
    fn header(&mut self, _columns: &[String]) -> anyhow::Result<()> {
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        self.0.push(values.to_vec());
        Ok(())
    }
}

/// Reports that try to write, or to hide a second statement, on every engine: with DuckDB's
/// dollar quotes (SQLite reads `$$` as a parameter), behind comments and strings.
#[cfg(test)]
pub(crate) const WRITING_REPORTS: [&str; 16] = [
    "SELECT $$'$$; DELETE FROM t",
    "SELECT $tag$'$tag$; DELETE FROM t",
    "SELECT $$ $x$ ' $$ AS a; DELETE FROM t; SELECT 1",
    "SELECT ''''; DELETE FROM t",
    "SELECT 1 /* ; */; DELETE FROM t",
    "SELECT 1; -- one\nDELETE FROM t",
    "SELECT 1; SELECT 2",
    "DELETE FROM t",
    "INSERT INTO t VALUES (3)",
    "CREATE TABLE u (x INTEGER)",
    "ATTACH 'attached.db' AS other",
    "COPY (SELECT 1) TO 'copied.csv'",
    "PRAGMA user_version = 3",
    "WITH d AS (SELECT 1) DELETE FROM t",
    "BEGIN",
    "",
];

#[cfg(test)]
mod tests {
    use super::RowIds;

    #[test]
    fn row_ids_are_kept_dense_or_far_out() {
        let mut ids = RowIds::default();
        for id in [0, 1, 63, 64, 1_000_000, -5, i64::MAX, 1 << 40] {
            assert!(!ids.contains(id), "{id}");
            assert!(!ids.insert(id), "{id}");
            assert!(ids.insert(id), "{id}");
            assert!(ids.contains(id), "{id}");
        }
        assert!(!ids.contains(2) && !ids.contains(1 << 41));
        // Far-out ids cost nothing below them.
        assert!(ids.dense.len() <= 1 << 21);
    }
}
