//! ClickHouse over its HTTP interface: one server, or every shard of a cluster.
//!
//! ClickHouse has no transaction, so a load never changes a row in place. Every table `t` of
//! schemas/ is stored as
//! - `t__local` on every shard: a `ReplacingMergeTree` ordered by the declared key and the
//!   write's identity (`_weir_load`, `_weir_seq`), with the record's version kept sortable
//!   (`_weir_vkind`, `_weir_vnum`, `_weir_vtext`) and `_weir_deleted` for a removed key;
//! - `t__all` on every shard: a `Distributed` table over them, sharded by a hash of the key, so
//!   every version of a key lands on one shard (only with a cluster);
//! - `t`: a view that shows, per key, the newest version (NULL oldest; among equals the latest
//!   write), unless that is a removal. A child table's view shows only the rows written with
//!   its parent's winning version.
//!
//! Reports and weir's own reads see only the views: before or after ClickHouse merges parts,
//! whatever the order rows arrived in, they never see a duplicate or an older version. Merges
//! only drop exact repeats (a retried insert). weir's books (`weir_*`) are tables like the others,
//! so a `DELETE` of a ledger row is a removal row. See docs/CLICKHOUSE.md.

mod load;
pub mod server;

use std::path::Path;

use anyhow::Context;
use serde_json::Value as Json;

use self::server::{Fault, Node, Server};
use super::{Engine, Kind, Load, QueryError, RowSink, SqlError, Table, Value};

/// The columns weir adds to every stored table, in this order.
pub(crate) const HIDDEN: [(&str, &str); 8] = [
    ("_weir_deleted", "UInt8"),
    ("_weir_vkind", "UInt8"),
    ("_weir_vnum", "Float64"),
    ("_weir_vtext", "String"),
    ("_weir_load", "UInt64"),
    ("_weir_seq", "UInt64"),
    // A child row: the write identity of the parent record it came with (0, 0 for top rows).
    ("_weir_parent_load", "UInt64"),
    ("_weir_parent_seq", "UInt64"),
];

/// weir's report functions (src/engine/functions.rs) as ClickHouse SQL functions, made on every
/// shard of a server that has them (21.11 and later). `weir_round` rounds the shortest decimal
/// text of `x` half away from zero, as weir does; ClickHouse's `round` of a Float64 rounds half
/// to even.
const FUNCTIONS: [&str; 3] = [
    "weir_round AS (x, d) -> toFloat64(round(toDecimal128(toString(x), 15), d))",
    "weir_epoch AS (t) -> toInt64(toUnixTimestamp(parseDateTimeBestEffortOrNull(t, 'UTC')))",
    "weir_weekday AS (t) -> toInt64(toDayOfWeek(toDate(substring(t, 1, 10))))",
];

/// `weir_local_time(t, tz)`: ClickHouse converts by a constant zone only (`toTimeZone`), but
/// `formatDateTime` takes a zone per row from 23.9 (before, it errs or uses one zone for all
/// rows), so the function is made from that version on. An empty zone is UTC, a NULL one NULL,
/// as in weir's own.
const LOCAL_TIME: &str = "weir_local_time AS (t, tz) -> if(isNull(tz), NULL, \
    formatDateTime(parseDateTime64BestEffortOrNull(t, 0, 'UTC'), '%Y-%m-%dT%H:%i:%S', \
    if(trimBoth(ifNull(tz, '')) = '', 'UTC', trimBoth(ifNull(tz, '')))))";

/// weir's table of the schema each table was made from: what `tables()` reports.
const SCHEMA_BOOK: &str = "CREATE TABLE weir_schema (name TEXT PRIMARY KEY, sql TEXT, view TEXT)";

pub struct ClickHouse {
    server: Server,
    /// The node weir talks to: the URL's.
    first: Node,
    /// Every shard's node, in shard order (the first node alone without a cluster). DDL goes to
    /// each: a cluster needs no Keeper for weir.
    shards: Vec<Node>,
    read_only: bool,
    /// The server's version, `major.minor`.
    version: (u32, u32),
}

/// The settings of every query weir sends.
const QUERY_SETTINGS: [(&str, &str); 3] = [
    ("output_format_json_quote_64bit_integers", "0"),
    ("join_use_nulls", "1"),
    ("insert_distributed_sync", "1"),
];

/// Settings of a report on a server that knows them, so that its SQL means what it means on
/// SQLite: `CAST` keeps a NULL (ClickHouse would refuse it), and a bare `UNION` removes
/// duplicates.
const REPORT_SETTINGS: [(&str, &str); 2] = [
    ("cast_keep_nullable", "1"),
    ("union_default_mode", "DISTINCT"),
];

impl ClickHouse {
    /// Connects, finds the shards, and makes the database and weir's books where missing.
    pub fn open(server: &Server, read_only: bool) -> anyhow::Result<ClickHouse> {
        let first = Node::new(server, &server.base)?;
        let version = first
            .send("SELECT version()", None, &[], false)
            .map_err(anyhow::Error::from)?;
        let version = parse_version(version.trim());
        let shards = match &server.cluster {
            None => vec![first.clone()],
            Some(cluster) => shard_nodes(server, &first, cluster)?,
        };
        let engine = ClickHouse {
            server: server.clone(),
            first,
            shards,
            read_only,
            version,
        };
        if !read_only {
            for node in &engine.shards {
                node.send(
                    &format!("CREATE DATABASE IF NOT EXISTS {}", ident(&server.database)),
                    None,
                    &[],
                    false,
                )
                .map_err(anyhow::Error::from)?;
            }
            let mut books = crate::bookkeeping::TABLES.to_string();
            books.push(';');
            books.push_str(SCHEMA_BOOK);
            let books = super::sqlite::parse_tables(&books, true)
                .map_err(|e| anyhow::anyhow!("weir's books: {}", e.message))?;
            for t in &books {
                engine.create(t, true)?;
            }
            // `CREATE FUNCTION IF NOT EXISTS` came in 21.11.
            if engine.version >= (21, 11) {
                for f in FUNCTIONS {
                    engine.on_shards(&format!("CREATE FUNCTION IF NOT EXISTS {f}"))?;
                }
            }
            if engine.version >= (23, 9) {
                engine.on_shards(&format!("CREATE FUNCTION IF NOT EXISTS {LOCAL_TIME}"))?;
            }
        }
        Ok(engine)
    }

    /// Runs one DDL statement on every shard.
    fn on_shards(&self, sql: &str) -> anyhow::Result<()> {
        for node in &self.shards {
            run_on(node, sql)?;
        }
        Ok(())
    }

    /// Creates `t`'s stored tables and its view (`if_missing`: keeps what exists).
    fn create(&self, t: &Table, if_missing: bool) -> anyhow::Result<()> {
        let ine = if if_missing { "IF NOT EXISTS " } else { "" };
        let key = key_columns(t);
        let mut columns: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", ident(&c.name), column_type(c)))
            .collect();
        columns.extend(HIDDEN.iter().map(|(n, ty)| format!("{n} {ty}")));
        let order: Vec<String> = key
            .iter()
            .map(|k| ident(k))
            .chain(["_weir_load".to_string(), "_weir_seq".to_string()])
            .collect();
        self.on_shards(&format!(
            "CREATE TABLE {ine}{} ({}) ENGINE = ReplacingMergeTree ORDER BY ({})",
            ident(&local(&t.name)),
            columns.join(", "),
            order.join(", ")
        ))?;
        if let Some(cluster) = &self.server.cluster {
            // A history table is sharded by the current table's key: every version of a key on
            // one shard, so a batch's versions of a key go in with one shard's insert.
            let history = t.name.ends_with("_history")
                && t.column(super::history::VALID_TO).is_some()
                && key.last().is_some_and(|k| k == super::history::VALID_FROM);
            let hashed = if history {
                &key[..key.len() - 1]
            } else {
                &key[..]
            };
            let hash: Vec<String> = hashed.iter().map(|k| ident(k)).collect();
            let hash = if hash.is_empty() {
                "rand()".to_string()
            } else {
                format!("cityHash64({})", hash.join(", "))
            };
            self.on_shards(&format!(
                "CREATE TABLE {ine}{} AS {} ENGINE = Distributed({}, {}, {}, {hash})",
                ident(&all(&t.name)),
                ident(&local(&t.name)),
                ident(cluster),
                ident(&self.server.database),
                ident(&local(&t.name)),
            ))?;
        }
        let view = top_view(&self.server, t);
        self.on_shards(&format!("CREATE VIEW {ine}{} AS {view}", ident(&t.name)))?;
        Ok(())
    }

    fn drop(&self, name: &str) -> anyhow::Result<()> {
        for t in [name.to_string(), all(name), local(name)] {
            self.on_shards(&format!("DROP TABLE IF EXISTS {}", ident(&t)))?;
        }
        Ok(())
    }

    /// Rows of a query weir itself sends, as values.
    fn rows(&self, sql: &str) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut rows = super::Collected::default();
        self.query_with(sql, &mut rows, &[]).map_err(|e| match e {
            QueryError::Sink(e) => e,
            other => anyhow::anyhow!("{other}"),
        })?;
        Ok(rows.rows)
    }

    /// A query weir itself sends, with `extra` settings.
    pub(crate) fn query_with(
        &self,
        sql: &str,
        sink: &mut dyn RowSink,
        extra: &[(&str, &str)],
    ) -> Result<(), QueryError> {
        let mut settings = QUERY_SETTINGS.to_vec();
        settings.extend_from_slice(extra);
        self.fetch(sql, sink, &settings)
    }

    fn query_into(
        &self,
        sql: &str,
        sink: &mut dyn RowSink,
        report: bool,
    ) -> Result<(), QueryError> {
        let mut settings = QUERY_SETTINGS.to_vec();
        if report || self.read_only {
            settings.push(("readonly", "1"));
        }
        if report && self.version >= (21, 1) {
            settings.extend_from_slice(&REPORT_SETTINGS);
        }
        self.fetch(sql, sink, &settings)
    }

    fn fetch(
        &self,
        sql: &str,
        sink: &mut dyn RowSink,
        settings: &[(&str, &str)],
    ) -> Result<(), QueryError> {
        let text = format!(
            "{} FORMAT JSONCompact",
            sql.trim_end().trim_end_matches(';')
        );
        let body = self
            .first
            .send(&text, None, settings, true)
            .map_err(|e| match e {
                Fault::Sql(e) => QueryError::Sql(e),
                other => QueryError::Sink(anyhow::Error::from(other)),
            })?;
        decode(&body, sink)
    }

    /// Replaces a child table's view by one that shows only the rows written with its parents'
    /// winning versions, unless it is that already.
    pub(crate) fn relate_child(&self, parent: &Table, child: &Table) -> anyhow::Result<()> {
        let view = child_view(&self.server, child, parent);
        let stored = self.rows(&format!(
            "SELECT view FROM weir_schema WHERE name = {}",
            literal(&Value::Text(child.name.clone()))
        ))?;
        if matches!(stored.first().and_then(|r| r.first()), Some(Value::Text(v)) if *v == view) {
            return Ok(());
        }
        self.on_shards(&format!("DROP TABLE IF EXISTS {}", ident(&child.name)))?;
        self.on_shards(&format!("CREATE VIEW {} AS {view}", ident(&child.name)))?;
        self.remember(child, &view)
    }

    /// Records `t`'s schema text and the view over it in weir_schema.
    fn remember(&self, t: &Table, view: &str) -> anyhow::Result<()> {
        let mut load = load::ChLoad::begin(self)?;
        load.execute(
            "INSERT INTO weir_schema VALUES (?, ?, ?)",
            &[
                Value::Text(t.name.clone()),
                Value::Text(t.sql.clone()),
                Value::Text(view.to_string()),
            ],
        )?;
        Box::new(load).commit()
    }
}

fn run_on(node: &Node, sql: &str) -> anyhow::Result<String> {
    run_with(node, sql, &[])
}

/// `run_on` with more settings than weir's own.
pub(crate) fn run_with(node: &Node, sql: &str, more: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut settings = QUERY_SETTINGS.to_vec();
    settings.extend_from_slice(more);
    node.send(sql, None, &settings, true)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("ClickHouse at {} refused `{}`", node.base, short(sql)))
}

fn short(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 120 {
        format!("{}…", one.chars().take(120).collect::<String>())
    } else {
        one
    }
}

fn parse_version(text: &str) -> (u32, u32) {
    let mut parts = text.split('.').map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Each shard's node: from `?shards=`, else the hosts of `system.clusters` (first replica) at
/// the URL's port.
fn shard_nodes(server: &Server, first: &Node, cluster: &str) -> anyhow::Result<Vec<Node>> {
    let sql = format!(
        "SELECT shard_num, host_address FROM system.clusters WHERE cluster = {} AND replica_num = 1 ORDER BY shard_num FORMAT TabSeparated",
        literal(&Value::Text(cluster.to_string()))
    );
    let text = first
        .send(&sql, None, &[], false)
        .map_err(anyhow::Error::from)?;
    let hosts: Vec<&str> = text.lines().filter_map(|l| l.split('\t').nth(1)).collect();
    if hosts.is_empty() {
        anyhow::bail!(
            "ClickHouse at {} has no cluster `{cluster}` in system.clusters; name one it has in `?cluster=`, or leave it out for a single server",
            server.base
        );
    }
    let bases: Vec<String> = match &server.shards {
        Some(list) if list.len() != hosts.len() => anyhow::bail!(
            "`?shards=` lists {} addresses, but cluster `{cluster}` has {} shards",
            list.len(),
            hosts.len()
        ),
        Some(list) => list.clone(),
        None => {
            let port = server.base.rsplit(':').next().unwrap_or("8123");
            let scheme = if server.base.starts_with("https") {
                "https"
            } else {
                "http"
            };
            hosts
                .iter()
                .map(|h| {
                    if h.contains(':') {
                        format!("{scheme}://[{h}]:{port}")
                    } else {
                        format!("{scheme}://{h}:{port}")
                    }
                })
                .collect()
        }
    };
    bases.iter().map(|b| Node::new(server, b)).collect()
}

fn local(table: &str) -> String {
    format!("{table}__local")
}

fn all(table: &str) -> String {
    format!("{table}__all")
}

pub(crate) fn storage(server: &Server, table: &str) -> String {
    if server.cluster.is_some() {
        all(table)
    } else {
        local(table)
    }
}

/// The declared key, or the write's own identity for a table without one (every row its own).
pub(crate) fn key_columns(t: &Table) -> Vec<String> {
    t.primary_key().into_iter().map(String::from).collect()
}

/// `ORDER BY … LIMIT 1 BY key`: per key, the newest version (NULL oldest, numbers before
/// text, as SQLite orders them), then the latest write; a removal wins over the row it removes.
/// In a table without a key every row is its own key: its write identity, which a removal
/// copies.
pub(crate) fn winners(server: &Server, t: &Table, filter: &str) -> String {
    winners_of(server, t, "*", filter)
}

/// `winners` with only `columns` (a SELECT list) read: a lookup that needs a few columns does
/// not read the others.
pub(crate) fn winners_of(server: &Server, t: &Table, columns: &str, filter: &str) -> String {
    let key = key_columns(t);
    let source = ident(&storage(server, &t.name));
    let by: Vec<String> = if key.is_empty() {
        vec!["_weir_load".into(), "_weir_seq".into()]
    } else {
        key.iter().map(|k| ident(k)).collect()
    };
    format!(
        "SELECT {columns} FROM {source}{filter} ORDER BY {by}, _weir_vkind DESC, _weir_vnum DESC, _weir_vtext DESC, \
         _weir_load DESC, _weir_seq DESC, _weir_deleted DESC LIMIT 1 BY {by}",
        by = by.join(", ")
    )
}

pub(crate) fn visible_columns(t: &Table) -> String {
    let cols: Vec<String> = t.columns.iter().map(|c| ident(&c.name)).collect();
    cols.join(", ")
}

fn top_view(server: &Server, t: &Table) -> String {
    format!(
        "SELECT {} FROM ({}) WHERE _weir_deleted = 0",
        visible_columns(t),
        winners(server, t, "")
    )
}

/// A child table's rows: those written with a winning version of a parent row, then per child
/// key the latest.
fn child_view(server: &Server, t: &Table, parent: &Table) -> String {
    let parents = format!(
        "SELECT _weir_load, _weir_seq FROM ({}) WHERE _weir_deleted = 0",
        winners(server, parent, "")
    );
    format!(
        "SELECT {} FROM ({}) WHERE _weir_deleted = 0",
        visible_columns(t),
        winners(
            server,
            t,
            &format!(" WHERE (_weir_parent_load, _weir_parent_seq) GLOBAL IN ({parents})")
        )
    )
}

/// ClickHouse's type for a declared column: what weir stores there on the other engines.
pub(crate) fn column_type(c: &super::Column) -> String {
    let d = c.declared.as_str();
    let base = if d.contains("INT") {
        "Int64"
    } else if d.contains("BOOL") {
        "UInt8"
    } else if ["REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL"]
        .iter()
        .any(|t| d.contains(t))
    {
        "Float64"
    } else {
        "String"
    };
    if c.notnull || c.pk > 0 {
        base.to_string()
    } else {
        format!("Nullable({base})")
    }
}

/// A name as ClickHouse quotes it.
pub(crate) fn ident(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A value as a ClickHouse literal.
pub(crate) fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(f) if f.is_finite() => format!("{f:?}"),
        Value::Real(_) => "NULL".into(),
        Value::Text(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('\'');
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\'' => out.push_str("\\'"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    '\0' => out.push_str("\\0"),
                    c => out.push(c),
                }
            }
            out.push('\'');
            out
        }
    }
}

/// Puts `params` in place of the `?` marks of `sql` (outside quotes).
pub(crate) fn bind(sql: &str, params: &[Value]) -> anyhow::Result<String> {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut next = params.iter();
    let mut i = 0;
    let mut start = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                i = super::sql_text::literal_end(bytes, i).map_or(bytes.len(), |end| end + 1);
                continue;
            }
            b'?' => {
                out.push_str(&sql[start..i]);
                let v = next
                    .next()
                    .ok_or_else(|| anyhow::anyhow!("too few parameters for `{sql}`"))?;
                out.push_str(&literal(v));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&sql[start..]);
    Ok(out)
}

/// A `JSONCompact` result into a sink: integers, floats and text as on the other engines.
fn decode(body: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
    let parsed: Json = serde_json::from_str(body)
        .map_err(|e| QueryError::Sink(anyhow::anyhow!("ClickHouse's answer is not JSON: {e}")))?;
    let meta = parsed["meta"].as_array().cloned().unwrap_or_default();
    let names: Vec<String> = meta
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_string())
        .collect();
    let kinds: Vec<char> = meta
        .iter()
        .map(|m| {
            let ty = m["type"].as_str().unwrap_or_default();
            let ty = ty
                .trim_start_matches("Nullable(")
                .trim_start_matches("LowCardinality(");
            if ty.starts_with("Int") || ty.starts_with("UInt") || ty.starts_with("Bool") {
                'i'
            } else if ty.starts_with("Float") || ty.starts_with("Decimal") {
                'f'
            } else {
                't'
            }
        })
        .collect();
    sink.header(&names).map_err(QueryError::Sink)?;
    let mut values = Vec::with_capacity(names.len());
    for row in parsed["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        values.clear();
        for (i, cell) in row
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            values.push(match (cell, kinds.get(i).copied().unwrap_or('t')) {
                (Json::Null, _) => Value::Null,
                (Json::Bool(b), _) => Value::Integer(i64::from(*b)),
                (Json::Number(n), 'i') => n
                    .as_i64()
                    .map(Value::Integer)
                    .unwrap_or_else(|| Value::Real(n.as_f64().unwrap_or(f64::NAN))),
                (Json::Number(n), _) => Value::Real(n.as_f64().unwrap_or(f64::NAN)),
                // 64-bit numbers and inf/nan may come quoted.
                (Json::String(s), 'i') => s
                    .parse()
                    .map(Value::Integer)
                    .unwrap_or(Value::Text(s.clone())),
                (Json::String(s), 'f') => s.parse().map(Value::Real).unwrap_or(Value::Null),
                (Json::String(s), _) => Value::Text(s.clone()),
                (other, _) => Value::Text(other.to_string()),
            });
        }
        sink.row(&values).map_err(QueryError::Sink)?;
    }
    Ok(())
}

impl Engine for ClickHouse {
    fn kind(&self) -> Kind {
        Kind::ClickHouse
    }

    /// As SQLite reads the script; a `CREATE INDEX` is checked there but not kept: a table here
    /// is ordered by its key, and reports read views (README, "Indexes").
    fn declared_tables(&self, script: &str) -> Result<Vec<Table>, SqlError> {
        let mut tables = super::Sqlite::in_memory()
            .map_err(|e| SqlError {
                message: e.to_string(),
                offset: None,
            })?
            .declared_tables(script)?;
        tables.iter_mut().for_each(|t| t.indexes.clear());
        Ok(tables)
    }

    fn tables(&self) -> anyhow::Result<Vec<Table>> {
        let rows = self.rows("SELECT name, sql FROM weir_schema ORDER BY name")?;
        let mut tables = Vec::new();
        let exists: Vec<Vec<Value>> = self.rows(&format!(
            "SELECT name FROM system.tables WHERE database = {}",
            literal(&Value::Text(self.server.database.clone()))
        ))?;
        for row in rows {
            let (Some(Value::Text(name)), Some(Value::Text(sql))) = (row.first(), row.get(1))
            else {
                continue;
            };
            if !exists
                .iter()
                .any(|r| r.first() == Some(&Value::Text(local(name))))
            {
                continue;
            }
            let parsed = super::sqlite::parse_tables(sql, true)
                .map_err(|e| anyhow::anyhow!("weir_schema of `{name}`: {}", e.message))?;
            tables.extend(parsed.into_iter().filter(|t| &t.name == name));
        }
        Ok(tables)
    }

    fn apply_schema(&mut self, drop: &[String], create: &[&Table]) -> anyhow::Result<()> {
        for name in drop {
            self.drop(name)?;
        }
        for t in create {
            self.drop(&t.name)?;
            self.create(t, false)?;
            self.remember(t, &top_view(&self.server, t))?;
        }
        Ok(())
    }

    fn begin_load(&mut self) -> anyhow::Result<Box<dyn Load + '_>> {
        Ok(Box::new(load::ChLoad::begin(self)?))
    }

    fn check_query(&self, sql: &str) -> Result<(), SqlError> {
        let trimmed = super::skip_blank(sql);
        let head = trimmed.get(..6).unwrap_or_default().to_ascii_uppercase();
        if !(head.starts_with("SELECT") || head.starts_with("WITH")) {
            return Err(super::must_only_read());
        }
        let prefix = "SELECT * FROM (";
        let wrapped = format!(
            "{prefix}{}\n) LIMIT 0",
            sql.trim_end().trim_end_matches(';')
        );
        match self.query_into(&wrapped, &mut super::Collected::default(), true) {
            Ok(()) => Ok(()),
            Err(QueryError::Sql(mut e)) => {
                e.offset = e.offset.and_then(|o| o.checked_sub(prefix.len()));
                Err(self.explain(e))
            }
            Err(other) => Err(SqlError {
                message: other.to_string(),
                offset: None,
            }),
        }
    }

    fn query(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        self.check_query(sql)?;
        self.query_into(sql, sink, true).map_err(|e| match e {
            QueryError::Sql(e) => QueryError::Sql(self.explain(e)),
            other => other,
        })
    }

    fn read_only(&mut self) -> anyhow::Result<()> {
        self.read_only = true;
        Ok(())
    }

    fn write_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        self.check_query(sql)?;
        let text = format!("{} FORMAT Parquet", sql.trim_end().trim_end_matches(';'));
        let mut settings = QUERY_SETTINGS.to_vec();
        settings.push(("readonly", "1"));
        let body = self
            .first
            .send_bytes(&text, &settings)
            .map_err(|e| match e {
                Fault::Sql(e) => QueryError::Sql(self.explain(e)),
                other => QueryError::Sink(anyhow::Error::from(other)),
            })?;
        crate::atomic::write(path, &body).map_err(|e| QueryError::Sink(e.into()))
    }
}

impl ClickHouse {
    /// A report refused by a server too old for its SQL says so.
    fn explain(&self, mut e: SqlError) -> SqlError {
        let old = self.version < (21, 11);
        let dialect = [
            "Syntax error",
            "more than one JOIN",
            "Unknown function weir_",
        ]
        .iter()
        .any(|m| e.message.contains(m));
        if old && dialect {
            e.message.push_str(&format!(
                " (ClickHouse {}.{} has no WITH … AS (SELECT …), window functions, several JOINs in one \
                 SELECT or SQL functions: weir's reports need ClickHouse 21.11 or later)",
                self.version.0, self.version.1
            ));
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_literals_outside_quotes() {
        let sql = bind(
            "SELECT '?' FROM t WHERE a = ? AND b = ? AND c <> ?",
            &[Value::Text("it's\\".into()), Value::Integer(3), Value::Null],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT '?' FROM t WHERE a = 'it\\'s\\\\' AND b = 3 AND c <> NULL"
        );
        assert!(bind("SELECT ?", &[]).is_err());
    }

    #[test]
    fn declared_types_map_to_what_weir_stores() {
        let c = |declared: &str, notnull: bool, pk: usize| super::super::Column {
            name: "c".into(),
            declared: declared.into(),
            pk,
            notnull,
            default: None,
        };
        assert_eq!(column_type(&c("TEXT", false, 0)), "Nullable(String)");
        assert_eq!(column_type(&c("BIGINT", true, 0)), "Int64");
        assert_eq!(column_type(&c("DOUBLE", false, 0)), "Nullable(Float64)");
        assert_eq!(column_type(&c("BOOLEAN", false, 0)), "Nullable(UInt8)");
        assert_eq!(column_type(&c("TEXT", false, 1)), "String");
        assert_eq!(column_type(&c("TIMESTAMP", false, 0)), "Nullable(String)");
    }
}
