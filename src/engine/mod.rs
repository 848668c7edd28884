//! The database behind one small trait. Only this folder names rusqlite (and, later, duckdb);
//! mappers, the loader and reports speak `Value`, `Table` and `WriteSpec`.

mod sqlite;

use std::path::Path;

pub use sqlite::Sqlite;

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
}

/// A table as the database (or a schema file) declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    /// The statement that creates it, as the schema file wrote it.
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

/// What became of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Inserted, or replaced an older or equal stored version.
    Written,
    /// A newer version is stored; nothing was written.
    Superseded,
}

/// Receives a query's result row by row.
pub trait RowSink {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()>;
    fn row(&mut self, values: &[Value]) -> anyhow::Result<()>;
}

/// An embedded database.
pub trait Engine {
    /// The tables a schema script declares, read by running it on a scratch database of the same
    /// kind. An error is the database's own message about the script.
    fn declared_tables(&self, script: &str) -> Result<Vec<Table>, SqlError>;

    /// The tables in the database now (weir's own bookkeeping tables excluded).
    fn tables(&self) -> anyhow::Result<Vec<Table>>;

    /// Creates the tables named by running `sql` statements; drops `drop` first. All or nothing.
    fn apply_schema(&mut self, drop: &[String], create: &[String]) -> anyhow::Result<()>;

    /// Starts the one transaction of a load.
    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>>;

    /// Checks that a query compiles against the tables; the error is the database's message.
    fn check_query(&self, sql: &str) -> Result<(), SqlError>;

    /// Runs a read-only query. Errors in the query text come back as `Err(QueryError::Sql)`.
    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError>;
}

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
}

/// One load: records in, then commit. Dropping it without `commit` rolls everything back.
pub trait Load {
    /// Writes a record's row and, when it wins, replaces its children (`children[i]` holds the
    /// rows of `child_specs[i]`).
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<Outcome>;

    fn commit(self: Box<Self>) -> anyhow::Result<()>;
}

/// Opens the database that the settings name.
pub fn open(db: Option<&Path>) -> anyhow::Result<Box<dyn Engine>> {
    Ok(Box::new(match db {
        Some(path) => Sqlite::open(path)?,
        None => Sqlite::in_memory()?,
    }))
}

/// Quotes an identifier for SQL. Names come from schema files and mappers; quoting keeps a
/// name that happens to be a keyword (`at`, `type`) working on every engine.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
