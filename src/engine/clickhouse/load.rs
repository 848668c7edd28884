//! One ClickHouse load. Records are held per writer and sent in batches: per key the batch's
//! newest version (the latest record among equals) is compared with the stored winner, read
//! from the cluster; a record that is not older is sent, its children first, so a report never
//! sees a parent without its children. The counts are final outcomes, as on SQLite: a record
//! that replaces one this load sent earlier makes that one superseded.
//!
//! weir's books (`weir_*`) arrive as the few plain statements of `bookkeeping.rs`: an INSERT is
//! a row like any other, a DELETE writes removal rows. They are held and sent after the data
//! they describe, so the ledger never names a file whose rows the cluster has not acknowledged.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::{ClickHouse, ident, key_columns, literal, storage, winners};
use crate::engine::{ChildSpec, Counts, Load, Table, Value, WriteSpec};

/// The low bits of a record's write number that name its writer.
const WRITER_BITS: u32 = 16;
const WRITER_MASK: u64 = (1 << WRITER_BITS) - 1;

/// Records held per writer before they are compared and sent.
const BATCH: usize = 20_000;

/// A ClickHouse setting sent with every insert and every key lookup: a batch's keys in an
/// `IN (…)` list are a long query.
const LONG_QUERY: (&str, &str) = ("max_query_size", "268435456");

pub(crate) struct ChLoad<'e> {
    engine: &'e ClickHouse,
    /// This load's identity and its number in `weir_loads`: nanoseconds since 1970 when it
    /// began, or one more than the last recorded load's where that is later.
    load: u64,
    /// The number of the write in this load: later writes win ties.
    seq: u64,
    writers: Vec<Writer>,
    /// weir's books (and plain INSERTs and DELETEs), in order, applied after the data at the
    /// commit: a failed load leaves its books as they were.
    books: Vec<Book>,
    counts: Counts,
    tables: HashMap<String, Table>,
}

enum Book {
    Insert(String, Option<Vec<String>>, Vec<Value>, u64),
    /// The table, the condition (bound), the removal's write number.
    Delete(String, String, u64),
}

struct Writer {
    spec: WriteSpec,
    children: Vec<ChildSpec>,
    /// What each column of the spec (then of each child spec) stores: a value is made that
    /// before it is held, so keys compare with the stored ones and inserts fit the column.
    types: Vec<Stored>,
    child_types: Vec<Vec<Stored>>,
    held: Vec<Held>,
}

/// What a column stores, as SQLite's affinity would make a value: a number in a TEXT column is
/// its text, an integer in a REAL column a real, an integral real in an INTEGER column an
/// integer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stored {
    Text,
    Integer,
    Real,
    Other,
}

impl Stored {
    fn of(table: &Table, column: &str) -> Stored {
        let ty = table
            .columns
            .iter()
            .find(|c| c.name == column)
            .map(super::column_type)
            .unwrap_or_default();
        match ty.trim_start_matches("Nullable(").trim_end_matches(')') {
            "String" => Stored::Text,
            "Int64" => Stored::Integer,
            "Float64" => Stored::Real,
            _ => Stored::Other,
        }
    }

    fn make(self, v: &Value) -> Value {
        match (self, v) {
            (Stored::Text, Value::Integer(i)) => Value::Text(i.to_string()),
            (Stored::Text, Value::Real(f)) if f.is_finite() => Value::Text(format!("{f:?}")),
            (Stored::Real, Value::Integer(i)) => Value::Real(*i as f64),
            (Stored::Integer, Value::Real(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                Value::Integer(*f as i64)
            }
            _ => v.clone(),
        }
    }

    fn row(types: &[Stored], row: &[Value]) -> Vec<Value> {
        row.iter().zip(types).map(|(v, t)| t.make(v)).collect()
    }
}

struct Held {
    seq: u64,
    row: Vec<Value>,
    children: Vec<Vec<Vec<Value>>>,
}

/// A version as ClickHouse sorts it: kind (NULL, number, text), number, text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
struct Version(u8, f64, String);

fn version(v: Option<&Value>) -> Version {
    match v {
        None | Some(Value::Null) => Version(0, 0.0, String::new()),
        Some(Value::Integer(i)) => Version(1, *i as f64, String::new()),
        Some(Value::Real(f)) => Version(1, *f, String::new()),
        Some(Value::Text(s)) => Version(2, 0.0, s.clone()),
    }
}

impl<'e> ChLoad<'e> {
    pub(crate) fn begin(engine: &'e ClickHouse) -> anyhow::Result<Self> {
        let mut books = crate::bookkeeping::TABLES.to_string();
        books.push(';');
        books.push_str(super::SCHEMA_BOOK);
        let mut tables: HashMap<String, Table> = crate::engine::sqlite::parse_tables(&books, true)
            .map_err(|e| anyhow::anyhow!("weir's books: {}", e.message))?
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        let rows = engine.rows("SELECT name, sql FROM weir_schema")?;
        for row in rows {
            if let Some(Value::Text(sql)) = row.get(1) {
                for t in crate::engine::sqlite::parse_tables(sql, true).unwrap_or_default() {
                    tables.insert(t.name.clone(), t);
                }
            }
        }
        // Later than every load recorded, even if this machine's clock is behind theirs.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let last = match engine.rows("SELECT max(id) FROM weir_loads")?.first() {
            Some(row) => match row.first() {
                Some(Value::Integer(i)) => u64::try_from(*i).unwrap_or(0),
                _ => 0,
            },
            None => 0,
        };
        let load = now.max(last + 1);
        Ok(ChLoad {
            engine,
            load,
            seq: 0,
            writers: Vec::new(),
            books: Vec::new(),
            counts: Counts::default(),
            tables,
        })
    }

    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn table(&self, name: &str) -> anyhow::Result<&Table> {
        self.tables.get(name).ok_or_else(|| {
            anyhow::anyhow!("no table `{name}` in the ClickHouse database; run `weir initialize`")
        })
    }

    fn writer(&mut self, spec: &WriteSpec, child_specs: &[ChildSpec]) -> anyhow::Result<usize> {
        if let Some(i) = self.writers.iter().position(|w| w.spec.id == spec.id) {
            return Ok(i);
        }
        let parent = self.table(&spec.table)?.clone();
        let mut child_types = Vec::new();
        for child in child_specs {
            let table = self.table(&child.spec.table)?.clone();
            self.engine.relate_child(&parent, &table)?;
            child_types.push(
                child
                    .spec
                    .columns
                    .iter()
                    .map(|c| Stored::of(&table, c))
                    .collect(),
            );
        }
        self.writers.push(Writer {
            spec: spec.clone(),
            children: child_specs.to_vec(),
            types: spec
                .columns
                .iter()
                .map(|c| Stored::of(&parent, c))
                .collect(),
            child_types,
            held: Vec::new(),
        });
        Ok(self.writers.len() - 1)
    }

    /// Sends what every writer holds.
    fn send_all(&mut self) -> anyhow::Result<()> {
        for i in 0..self.writers.len() {
            self.send(i)?;
        }
        Ok(())
    }

    /// Compares one writer's held records with the stored winners and sends the ones that win.
    fn send(&mut self, i: usize) -> anyhow::Result<()> {
        let held = std::mem::take(&mut self.writers[i].held);
        if held.is_empty() {
            return Ok(());
        }
        let pending = held.len();
        let spec = self.writers[i].spec.clone();
        let children = self.writers[i].children.clone();
        let key_of =
            |row: &[Value]| -> Vec<String> { spec.key.iter().map(|&k| literal(&row[k])).collect() };
        // Per key, the batch's winner: the newest version, the latest among equals.
        let mut best: HashMap<Vec<String>, usize> = HashMap::new();
        for (n, h) in held.iter().enumerate() {
            let key = key_of(&h.row);
            match best.get(&key) {
                Some(&b)
                    if version(spec.version.map(|v| &held[b].row[v]))
                        > version(spec.version.map(|v| &h.row[v])) => {}
                _ => {
                    best.insert(key, n);
                }
            }
        }
        let stored = self.stored(&spec, best.keys())?;
        let mut sent: Vec<usize> = Vec::new();
        let mut rewritten = 0;
        for (key, &n) in &best {
            if let Some((v, load, seq)) = stored.get(key) {
                if *v > version(spec.version.map(|c| &held[n].row[c])) {
                    continue; // the stored row is newer
                }
                if *load == self.load && seq & WRITER_MASK == i as u64 & WRITER_MASK {
                    rewritten += 1;
                }
            }
            sent.push(n);
        }
        sent.sort_unstable();
        // Children first: a parent row is never visible before its children are stored.
        for (c, child) in children.iter().enumerate() {
            let mut body = String::new();
            for &n in &sent {
                for row in &held[n].children[c] {
                    let seq = self.next();
                    json_row(
                        &mut body,
                        &child.spec.columns,
                        row,
                        None,
                        self.load,
                        seq,
                        Some(held[n].seq),
                    );
                }
            }
            self.insert(&child.spec.table, &body)?;
        }
        let mut body = String::new();
        for &n in &sent {
            let h = &held[n];
            let v = version(spec.version.map(|c| &h.row[c]));
            json_row(
                &mut body,
                &spec.columns,
                &h.row,
                Some(&v),
                self.load,
                h.seq,
                None,
            );
        }
        self.insert(&spec.table, &body)?;
        self.counts.written += sent.len() - rewritten;
        self.counts.superseded += pending - sent.len() + rewritten;
        Ok(())
    }

    /// The stored winners of `keys` (literal tuples of the spec's key): version, load and write
    /// number.
    fn stored<'k>(
        &self,
        spec: &WriteSpec,
        keys: impl Iterator<Item = &'k Vec<String>>,
    ) -> anyhow::Result<HashMap<Vec<String>, (Version, u64, u64)>> {
        let table = self.table(&spec.table)?;
        let names: Vec<String> = spec.key.iter().map(|&k| ident(&spec.columns[k])).collect();
        let tuples: Vec<String> = keys.map(|k| format!("({})", k.join(", "))).collect();
        let mut out = HashMap::new();
        for chunk in tuples.chunks(BATCH) {
            let filter = format!(" WHERE ({}) IN ({})", names.join(", "), chunk.join(", "));
            let sql = format!(
                "SELECT {}, _weir_vkind, _weir_vnum, _weir_vtext, _weir_load, _weir_seq FROM ({}) WHERE _weir_deleted = 0",
                names.join(", "),
                winners(&self.engine.server, table, &filter)
            );
            let mut rows = crate::engine::Collected::default();
            self.engine
                .query_with(&sql, &mut rows, &[LONG_QUERY])
                .map_err(|e| match e {
                    crate::engine::QueryError::Sink(e) => e,
                    other => anyhow::anyhow!("{other}"),
                })
                .with_context(|| format!("cannot read the stored versions of `{}`", spec.table))?;
            let k = names.len();
            for row in rows.rows {
                let key: Vec<String> = row[..k].iter().map(literal).collect();
                let kind = match row[k] {
                    Value::Integer(i) => i as u8,
                    _ => 0,
                };
                let num = match row[k + 1] {
                    Value::Real(f) => f,
                    Value::Integer(i) => i as f64,
                    _ => 0.0,
                };
                let text = match &row[k + 2] {
                    Value::Text(s) => s.clone(),
                    _ => String::new(),
                };
                let number = |v: &Value| match v {
                    Value::Integer(i) => *i as u64,
                    _ => 0,
                };
                let (load, seq) = (number(&row[k + 3]), number(&row[k + 4]));
                out.insert(key, (Version(kind, num, text), load, seq));
            }
        }
        Ok(out)
    }

    fn insert(&self, table: &str, body: &str) -> anyhow::Result<()> {
        if body.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} FORMAT JSONEachRow",
            ident(&storage(&self.engine.server, table))
        );
        let mut settings = super::QUERY_SETTINGS.to_vec();
        settings.push(LONG_QUERY);
        self.engine
            .first
            .send(&sql, Some(body.as_bytes()), &settings, true)
            .map_err(anyhow::Error::from)
            // A batch holds many records: the one whose write sent it is not to blame.
            .with_context(|| crate::engine::MergeRefused(table.to_string()))?;
        Ok(())
    }

    /// Applies weir's books after every data row: first the removals of data rows (a complete
    /// source's), then the books in order, so the ledger never names a file before the load's
    /// data is whole, and `weir_loads` comes last.
    fn send_books(&mut self) -> anyhow::Result<()> {
        self.send_all()?;
        let (mut books, rest): (Vec<Book>, Vec<Book>) = std::mem::take(&mut self.books)
            .into_iter()
            .partition(|b| matches!(b, Book::Delete(t, ..) if !t.starts_with("weir_")));
        books.extend(rest);
        let mut bodies: Vec<(String, String)> = Vec::new();
        for book in &books {
            match book {
                Book::Insert(table, columns, row, seq) => {
                    let t = self.table(table)?;
                    let columns: Vec<String> = match columns {
                        Some(c) => c.clone(),
                        None => t.columns.iter().map(|c| c.name.clone()).collect(),
                    };
                    if columns.len() != row.len() {
                        anyhow::bail!(
                            "`INSERT INTO {table}` gives {} values for {} columns",
                            row.len(),
                            columns.len()
                        );
                    }
                    let body = match bodies.iter_mut().position(|(n, _)| n == table) {
                        Some(i) => &mut bodies[i].1,
                        None => {
                            bodies.push((table.clone(), String::new()));
                            &mut bodies.last_mut().expect("just pushed").1
                        }
                    };
                    json_row(body, &columns, row, None, self.load, *seq, None);
                }
                Book::Delete(table, cond, seq) => {
                    // A removal sees the rows this load wrote before it, never the later ones.
                    for (table, body) in std::mem::take(&mut bodies) {
                        self.insert(&table, &body)?;
                    }
                    self.delete(table, cond, *seq)?;
                }
            }
        }
        for (table, body) in bodies {
            self.insert(&table, &body)?;
        }
        Ok(())
    }

    /// `DELETE FROM t [WHERE …]`: a removal row for every visible row it matches.
    fn delete(&self, table: &str, filter: &str, seq: u64) -> anyhow::Result<()> {
        let t = self.table(table)?.clone();
        let key = key_columns(&t);
        let (columns, identity) = if key.is_empty() {
            let all: Vec<String> = t.columns.iter().map(|c| ident(&c.name)).collect();
            (all, "_weir_load, _weir_seq".to_string())
        } else {
            (
                key.iter().map(|k| ident(k)).collect(),
                format!(
                    "toUInt64({}) AS _weir_load, toUInt64({seq}) AS _weir_seq",
                    self.load
                ),
            )
        };
        let filter = if filter.is_empty() {
            String::new()
        } else {
            format!(" AND ({filter})")
        };
        let sql = format!(
            "INSERT INTO {} ({cols}, _weir_deleted, _weir_vkind, _weir_vnum, _weir_vtext, _weir_load, _weir_seq) \
             SELECT {cols}, toUInt8(1) AS _weir_deleted, _weir_vkind, _weir_vnum, _weir_vtext, {identity} FROM ({}) \
             WHERE _weir_deleted = 0{filter}",
            ident(&storage(&self.engine.server, table)),
            winners(&self.engine.server, &t, ""),
            cols = columns.join(", "),
        );
        super::run_with(&self.engine.first, &sql, &[LONG_QUERY])?;
        Ok(())
    }
}

/// One JSONEachRow line: the row's columns, then weir's hidden ones.
fn json_row(
    out: &mut String,
    columns: &[String],
    row: &[Value],
    version: Option<&Version>,
    load: u64,
    seq: u64,
    parent_seq: Option<u64>,
) {
    out.push('{');
    for (name, value) in columns.iter().zip(row) {
        json_string(out, name);
        out.push(':');
        match value {
            Value::Null => out.push_str("null"),
            Value::Integer(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Real(f) if f.is_finite() => {
                let _ = write!(out, "{f:?}");
            }
            Value::Real(_) => out.push_str("null"),
            Value::Text(s) => json_string(out, s),
        }
        out.push(',');
    }
    let v = version.cloned().unwrap_or(Version(0, 0.0, String::new()));
    let _ = write!(
        out,
        "\"_weir_deleted\":0,\"_weir_vkind\":{},\"_weir_vnum\":{:?},\"_weir_vtext\":",
        v.0,
        if v.1.is_finite() { v.1 } else { 0.0 }
    );
    json_string(out, &v.2);
    let (parent_load, parent_seq) = match parent_seq {
        Some(s) => (load, s),
        None => (0, 0),
    };
    let _ = writeln!(
        out,
        ",\"_weir_load\":{load},\"_weir_seq\":{seq},\"_weir_parent_load\":{parent_load},\"_weir_parent_seq\":{parent_seq}}}"
    );
}

fn json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).expect("a string is JSON"));
}

/// `INSERT INTO name [(a, b)] VALUES (…)` → the table and its columns, when it is one.
fn plain_insert(sql: &str) -> Option<(String, Option<Vec<String>>)> {
    let rest = strip_words(sql.trim(), &["INSERT", "INTO"])?;
    let name_end = rest.find(|c: char| c.is_whitespace() || c == '(')?;
    let name = rest[..name_end].trim_matches('"').to_string();
    let rest = rest[name_end..].trim_start();
    let (columns, rest) = if let Some(inner) = rest.strip_prefix('(') {
        let close = inner.find(')')?;
        let cols = inner[..close]
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect();
        (Some(cols), inner[close + 1..].trim_start())
    } else {
        (None, rest)
    };
    strip_words(rest, &["VALUES"])?;
    Some((name, columns))
}

/// `DELETE FROM name [WHERE cond]` → the table and the condition.
fn plain_delete(sql: &str) -> Option<(String, String)> {
    let rest = strip_words(sql.trim(), &["DELETE", "FROM"])?;
    let name_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let name = rest[..name_end].trim_matches('"').to_string();
    let rest = rest[name_end..].trim();
    if rest.is_empty() {
        return Some((name, String::new()));
    }
    let cond = strip_words(rest, &["WHERE"])?;
    Some((name, cond.to_string()))
}

fn strip_words<'s>(mut s: &'s str, words: &[&str]) -> Option<&'s str> {
    for w in words {
        let head = s.get(..w.len())?;
        if !head.eq_ignore_ascii_case(w) {
            return None;
        }
        s = s[w.len()..].trim_start();
    }
    Some(s)
}

impl Load for ChLoad<'_> {
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        let i = self.writer(spec, child_specs)?;
        // The low bits name the writer: a stored row this writer sent in this load is one it
        // rewrites (another source's is not).
        let seq = self.next() << WRITER_BITS | (i as u64 & WRITER_MASK);
        let w = &mut self.writers[i];
        let children = children
            .iter()
            .zip(&w.child_types)
            .map(|(rows, types)| rows.iter().map(|r| Stored::row(types, r)).collect())
            .collect();
        w.held.push(Held {
            seq,
            row: Stored::row(&w.types, row),
            children,
        });
        if w.held.len() >= BATCH {
            self.send(i)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<Counts> {
        self.send_all()?;
        Ok(std::mem::take(&mut self.counts))
    }

    fn retain(
        &mut self,
        spec: &WriteSpec,
        _child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.send_all()?;
        let table = self.table(&spec.table)?.clone();
        let names: Vec<String> = spec.key.iter().map(|&k| ident(&spec.columns[k])).collect();
        let types: Vec<Stored> = spec
            .key
            .iter()
            .map(|&k| Stored::of(&table, &spec.columns[k]))
            .collect();
        let sql = format!(
            "SELECT {} FROM ({}) WHERE _weir_deleted = 0",
            names.join(", "),
            winners(&self.engine.server, &table, "")
        );
        let kept: HashSet<Vec<String>> = keys
            .iter()
            .map(|k| Stored::row(&types, k).iter().map(literal).collect())
            .collect();
        let gone: Vec<String> = self
            .engine
            .rows(&sql)?
            .into_iter()
            .map(|r| r.iter().map(literal).collect::<Vec<_>>())
            .filter(|k| !kept.contains(k))
            .map(|k| format!("({})", k.join(", ")))
            .collect();
        // Children of a removed row disappear with it: their view shows only the rows of
        // visible parents.
        // Applied with the books at the commit: a failed load removes nothing.
        for chunk in gone.chunks(BATCH) {
            let seq = self.next();
            self.books.push(Book::Delete(
                spec.table.clone(),
                format!("({}) IN ({})", names.join(", "), chunk.join(", ")),
                seq,
            ));
        }
        Ok(gone.len())
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        let trimmed = sql.trim();
        if strip_words(trimmed, &["CREATE", "TABLE", "IF", "NOT", "EXISTS"]).is_some() {
            return Ok(0); // weir's books are made when the database is opened
        }
        if let Some((table, columns)) = plain_insert(trimmed) {
            let seq = self.next();
            self.books
                .push(Book::Insert(table, columns, params.to_vec(), seq));
            return Ok(1);
        }
        if let Some((table, cond)) = plain_delete(trimmed) {
            let cond = super::bind(&cond, params)?;
            let seq = self.next();
            self.books.push(Book::Delete(table, cond, seq));
            return Ok(0);
        }
        anyhow::bail!(
            "weir cannot run `{}` on ClickHouse (history tables are not supported there yet)",
            super::short(trimmed)
        )
    }

    /// Reads what is stored: not the books this load holds until its commit.
    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        self.engine.rows(&super::bind(sql, params)?)
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.send_books()
    }

    fn keeps_history(&self) -> bool {
        false
    }

    fn shared(&self) -> bool {
        true
    }

    fn own_load_id(&self) -> Option<i64> {
        i64::try_from(self.load).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statements_of_the_books_are_read() {
        assert_eq!(
            plain_insert("INSERT INTO weir_files VALUES (?, ?)"),
            Some(("weir_files".into(), None))
        );
        assert_eq!(
            plain_insert("INSERT INTO \"t\" (\"a\", b) VALUES (?, ?)"),
            Some(("t".into(), Some(vec!["a".into(), "b".into()])))
        );
        assert_eq!(plain_insert("INSERT INTO t SELECT 1"), None);
        assert_eq!(
            plain_delete("DELETE FROM weir_files WHERE source = ? AND file = ?"),
            Some(("weir_files".into(), "source = ? AND file = ?".into()))
        );
        assert_eq!(
            plain_delete("DELETE FROM \"t\""),
            Some(("t".into(), String::new()))
        );
    }

    #[test]
    fn versions_sort_as_sqlite_compares_them() {
        let null = version(Some(&Value::Null));
        let one = version(Some(&Value::Integer(1)));
        let half = version(Some(&Value::Real(1.5)));
        let text = version(Some(&Value::Text("2026".into())));
        assert!(null < one && one < half && half < text);
        assert!(version(Some(&Value::Text("b".into()))) > text);
    }
}
