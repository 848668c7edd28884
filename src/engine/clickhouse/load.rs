//! One ClickHouse load. Records are held per writer and sent in batches: per key the batch's
//! newest version (the latest record among equals) is compared with the stored winner, read
//! from the cluster; a record that is not older is sent, its children first, so a report never
//! sees a parent without its children. The counts are final outcomes, as on SQLite: a record
//! that replaces one this load sent earlier makes that one superseded.
//!
//! weir's books (`weir_*`) arrive as the few plain statements of `bookkeeping.rs`: an INSERT is
//! a row like any other, a DELETE writes removal rows. They are held and sent after the data
//! they describe, so the ledger never names a file whose rows the cluster has not acknowledged.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;

mod history;

use super::{ClickHouse, ident, key_columns, literal, storage, winners, winners_of};
use crate::engine::{ChildSpec, Counts, Load, Table, Value, WriteSpec};

/// The low bits of a record's write number that name its writer.
const WRITER_BITS: u32 = 16;
const WRITER_MASK: u64 = (1 << WRITER_BITS) - 1;

/// Records held per writer before they are compared and sent.
const BATCH: usize = 20_000;

/// The hidden columns that say which row of a key wins.
const IDENTITY: &str = "_weir_vkind, _weir_vnum, _weir_vtext, _weir_load, _weir_seq, _weir_deleted";

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
    /// `history: true`: per writer (`WriteSpec::id`) the history table it keeps.
    histories: HashMap<usize, String>,
}

enum Book {
    Insert(String, Option<Vec<String>>, Vec<Value>, u64),
    Delete(Delete),
}

/// `DELETE FROM table WHERE cond`, held until the commit.
struct Delete {
    table: String,
    /// The condition, bound.
    cond: String,
    /// The condition as `column = value` and `column <> value` terms joined by AND, when it
    /// is that simple (the books' statements are): many such statements become one `IN`, and
    /// the rows this load writes are matched in memory.
    terms: Option<Vec<Term>>,
    /// The statement's write number.
    seq: u64,
}

struct Term {
    column: String,
    equal: bool,
    value: Value,
}

/// `a = ? AND "b" <> ?` with its parameters → the terms; `None` for any other condition.
fn simple_terms(cond: &str, params: &[Value]) -> Option<Vec<Term>> {
    if cond.contains(['\'', '(', ')']) {
        return None;
    }
    let mut params = params.iter();
    let mut terms = Vec::new();
    let upper = cond.to_ascii_uppercase();
    let mut rest = (cond, upper.as_str());
    loop {
        let (part, next) = match rest.1.find(" AND ") {
            Some(i) => (&rest.0[..i], Some((&rest.0[i + 5..], &rest.1[i + 5..]))),
            None => (rest.0, None),
        };
        let (column, equal, value) = if let Some((c, v)) = part.split_once("<>") {
            (c, false, v)
        } else if let Some((c, v)) = part.split_once("!=") {
            (c, false, v)
        } else {
            let (c, v) = part.split_once('=')?;
            (c, true, v)
        };
        if value.trim() != "?" {
            return None;
        }
        let column = column.trim().trim_matches('"');
        if column.is_empty() || !column.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return None;
        }
        terms.push(Term {
            column: column.to_string(),
            equal,
            value: params.next()?.clone(),
        });
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    (params.next().is_none() && terms.iter().any(|t| t.equal)).then_some(terms)
}

struct Writer {
    spec: WriteSpec,
    children: Vec<ChildSpec>,
    /// What each column of the spec stores, then of each child spec's: a value is made that
    /// before it is held, so keys compare with the stored ones and inserts fit the column.
    types: Vec<Stored>,
    child_types: Vec<Vec<Stored>>,
    /// The JSON keys of the spec's columns, then of each child spec's.
    names: Vec<String>,
    child_names: Vec<Vec<String>>,
    held: Vec<Held>,
    /// The held records' lines, then per child spec their rows' lines: one buffer each, reused
    /// batch after batch, so memory does not fragment.
    lines: String,
    child_lines: Vec<String>,
    /// The history table it keeps (`history: true`).
    history: Option<history::Kept>,
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

    /// `make`, borrowing the value where it is already what the column stores.
    fn cow(self, v: &Value) -> Cow<'_, Value> {
        match (self, v) {
            (Stored::Text, Value::Integer(_) | Value::Real(_))
            | (Stored::Real, Value::Integer(_))
            | (Stored::Integer, Value::Real(_)) => Cow::Owned(self.make(v)),
            _ => Cow::Borrowed(v),
        }
    }
}

/// A record held for its batch: what deciding needs (key, version) and its rows already in
/// JSONEachRow (its write number among them), so a batch holds a few strings per record, not
/// every value.
struct Held {
    key: Vec<String>,
    version: Version<'static>,
    /// Where its line is in the writer's `lines`, and where in it the hidden columns start.
    line: Range<usize>,
    hidden: usize,
    /// Its write number.
    seq: u64,
    /// Per child spec, where the lines of its rows are in the writer's `child_lines`.
    children: Vec<Range<usize>>,
    /// Its line in the history table, where the writer keeps one and its version is not NULL.
    history: Option<history::HeldLine>,
}

/// A key's stored winner, as a batch compares with it.
struct Winner {
    /// The version it was written with (its version column).
    version: Version<'static>,
    /// The version it sorts by (`_weir_v*`): its own, or a removal's it was written over.
    sorts_by: Version<'static>,
    load: u64,
    seq: u64,
    /// A removal row: the key is gone.
    removed: bool,
}

/// A version as ClickHouse sorts it: kind (NULL, number, text), number, text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
struct Version<'a>(u8, f64, Cow<'a, str>);

fn version(v: Option<&Value>) -> Version<'_> {
    match v {
        None | Some(Value::Null) => Version(0, 0.0, Cow::Borrowed("")),
        Some(Value::Integer(i)) => Version(1, *i as f64, Cow::Borrowed("")),
        Some(Value::Real(f)) => Version(1, *f, Cow::Borrowed("")),
        Some(Value::Text(s)) => Version(2, 0.0, Cow::Borrowed(s)),
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
            histories: HashMap::new(),
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
        let history = match self.histories.get(&spec.id) {
            Some(name) => Some(history::Kept::new(self.table(name)?.clone(), spec)?),
            None => None,
        };
        self.writers.push(Writer {
            history,
            spec: spec.clone(),
            children: child_specs.to_vec(),
            types: spec
                .columns
                .iter()
                .map(|c| Stored::of(&parent, c))
                .collect(),
            child_types,
            names: json_names(&spec.columns),
            child_names: child_specs
                .iter()
                .map(|c| json_names(&c.spec.columns))
                .collect(),
            held: Vec::new(),
            lines: String::new(),
            child_lines: vec![String::new(); child_specs.len()],
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
        // Per key, the batch's winner: the newest version, the latest among equals.
        let mut best: HashMap<&Vec<String>, usize> = HashMap::new();
        for (n, h) in held.iter().enumerate() {
            match best.get(&h.key) {
                Some(&b) if held[b].version > h.version => {}
                _ => {
                    best.insert(&h.key, n);
                }
            }
        }
        let stored = self.stored(&spec, best.keys().copied())?;
        // Each record sent, with the version it sorts by where that is not its own.
        let mut sent: Vec<(usize, Option<&Version>)> = Vec::new();
        let mut rewritten = 0;
        for (key, &n) in &best {
            let mut lift = None;
            if let Some(w) = stored.get(*key) {
                if !w.removed {
                    if w.version > held[n].version {
                        continue; // the stored row is newer
                    }
                    if w.load == self.load && w.seq & WRITER_MASK == i as u64 & WRITER_MASK {
                        rewritten += 1;
                    }
                }
                // Over a removal (a key a complete source dropped, now back), or a row that sorts
                // by a removal's version, a record sorts by that version too: it wins by being
                // written later, as an insert after a DELETE does on SQLite, whatever its own
                // version. Comparisons still use its own (`Winner::version`).
                if w.sorts_by > held[n].version {
                    lift = Some(&w.sorts_by);
                }
            }
            sent.push((n, lift));
        }
        sent.sort_unstable_by_key(|s| s.0);
        // Children first: a parent row is never visible before its children are stored.
        let mut body = String::new();
        for (c, child) in children.iter().enumerate() {
            let lines = &self.writers[i].child_lines[c];
            body.clear();
            body.extend(
                sent.iter()
                    .map(|&(n, _)| &lines[held[n].children[c].clone()]),
            );
            self.insert(&child.spec.table, &body)?;
        }
        let lines = &self.writers[i].lines;
        body.clear();
        for &(n, lift) in &sent {
            let h = &held[n];
            match lift {
                None => body.push_str(&lines[h.line.clone()]),
                Some(v) => {
                    body.push_str(&lines[h.line.start..h.line.start + h.hidden]);
                    json_hidden(&mut body, Some(v), self.load, h.seq, None);
                }
            }
        }
        self.insert(&spec.table, &body)?;
        drop(body);
        if let Some((table, body)) = self.history_body(i, &held)? {
            self.insert(&table, &body)?;
        }
        let w = &mut self.writers[i];
        w.lines.clear();
        w.child_lines.iter_mut().for_each(String::clear);
        self.counts.written += sent.len() - rewritten;
        self.counts.superseded += pending - sent.len() + rewritten;
        Ok(())
    }

    /// The stored winners of `keys` (literal tuples of the spec's key), removals among them.
    fn stored<'k>(
        &self,
        spec: &WriteSpec,
        keys: impl Iterator<Item = &'k Vec<String>>,
    ) -> anyhow::Result<HashMap<Vec<String>, Winner>> {
        let table = self.table(&spec.table)?;
        let names: Vec<String> = spec.key.iter().map(|&k| ident(&spec.columns[k])).collect();
        let mut columns = format!("{}, {IDENTITY}", names.join(", "));
        if let Some(v) = spec.version {
            columns.push_str(&format!(", {}", ident(&spec.columns[v])));
        }
        let tuples: Vec<String> = keys.map(|k| format!("({})", k.join(", "))).collect();
        let mut out = HashMap::new();
        for chunk in tuples.chunks(BATCH) {
            let filter = format!(" WHERE ({}) IN ({})", names.join(", "), chunk.join(", "));
            let sql = winners_of(&self.engine.server, table, &columns, &filter);
            let rows = self.read(&sql, &spec.table)?;
            let k = names.len();
            for row in rows {
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
                let sorts_by = Version(kind, num, Cow::Owned(text));
                let own = version(row.get(k + 6));
                out.insert(
                    key,
                    Winner {
                        version: Version(own.0, own.1, Cow::Owned(own.2.into_owned())),
                        sorts_by,
                        load: number(&row[k + 3]),
                        seq: number(&row[k + 4]),
                        removed: number(&row[k + 5]) != 0,
                    },
                );
            }
        }
        Ok(out)
    }

    /// The rows of a lookup in the stored versions of `table`.
    fn read(&self, sql: &str, table: &str) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut rows = crate::engine::Collected::default();
        self.engine
            .query_with(sql, &mut rows, &[LONG_QUERY])
            .map_err(|e| match e {
                crate::engine::QueryError::Sink(e) => e,
                other => anyhow::anyhow!("{other}"),
            })
            .with_context(|| format!("cannot read the stored versions of `{table}`"))?;
        Ok(rows.rows)
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

    /// Applies weir's books after every data row, a group of tables at a time: the removals of
    /// data rows (a complete source's), then the books, then the ledger (`weir_files`), then
    /// `weir_loads`, so the ledger never names a file before the load's data and its rejections
    /// are whole, and `weir_loads` comes last. Within a group,
    /// first the removals of stored rows, then the inserts, then the removals of the rows this
    /// load inserted before a `DELETE` that matches them: a few queries per table, whatever the
    /// number of statements (a ledger row per file is many).
    fn send_books(&mut self) -> anyhow::Result<()> {
        self.send_all()?;
        // Per table, in the order first met: its inserts (columns, row, write number) and its
        // deletes.
        type Inserts = Vec<(Vec<String>, Vec<Value>, u64)>;
        let mut tables: Vec<(String, Inserts, Vec<Delete>)> = Vec::new();
        for book in std::mem::take(&mut self.books) {
            let name = match &book {
                Book::Insert(t, ..) => t,
                Book::Delete(d) => &d.table,
            };
            let i = match tables.iter().position(|(n, ..)| n == name) {
                Some(i) => i,
                None => {
                    tables.push((name.clone(), Vec::new(), Vec::new()));
                    tables.len() - 1
                }
            };
            match book {
                Book::Insert(table, columns, row, seq) => {
                    let columns = match columns {
                        Some(c) => c,
                        None => self
                            .table(&table)?
                            .columns
                            .iter()
                            .map(|c| c.name.clone())
                            .collect(),
                    };
                    if columns.len() != row.len() {
                        anyhow::bail!(
                            "`INSERT INTO {table}` gives {} values for {} columns",
                            row.len(),
                            columns.len()
                        );
                    }
                    tables[i].1.push((columns, row, seq));
                }
                Book::Delete(d) => tables[i].2.push(d),
            }
        }
        let group = |table: &str| match table {
            "weir_loads" => 3,
            "weir_files" => 2,
            t if t.starts_with("weir_") => 1,
            _ => 0,
        };
        for g in 0..4 {
            let in_group = || tables.iter().filter(|(t, ..)| group(t) == g);
            for (table, _, deletes) in in_group() {
                self.remove(table, deletes)?;
            }
            for (table, inserts, deletes) in in_group() {
                let t = self.table(table)?.clone();
                // A row this load inserts and a later simple DELETE matches is not sent at all;
                // a later DELETE of any other form removes it once it is stored.
                let later = Later::new(&t, deletes);
                let mut body = String::new();
                let mut first = u64::MAX;
                for (columns, row, seq) in inserts {
                    if !later.deletes(columns, row, *seq) {
                        json_row(
                            &mut body,
                            &json_names(columns),
                            &[],
                            row,
                            None,
                            self.load,
                            *seq,
                            None,
                        );
                        first = first.min(*seq);
                    }
                }
                self.insert(table, &body)?;
                let after: Vec<&Delete> = deletes
                    .iter()
                    .filter(|d| d.terms.is_none() && d.seq > first)
                    .collect();
                if !after.is_empty() {
                    self.remove_own(table, &after)?;
                }
            }
        }
        Ok(())
    }

    /// Removal rows for the stored rows (other loads') that `deletes` match, in order. A
    /// removal of a keyed row carries the write number of the first statement of its query (a
    /// later write of the key in this load wins over it, and a write before it needed a DELETE
    /// of the stored row first); in a table without a key it copies the row's identity.
    fn remove(&self, table: &str, deletes: &[Delete]) -> anyhow::Result<()> {
        let definition = self.table(table)?;
        // A value as the column stores it, as `Later` compares it.
        let value = |term: &Term| stored(definition, &term.column, &term.value);
        let mut rest = deletes;
        while let Some(first) = rest.first() {
            // A run of simple statements of one form, with the same `<>` values, is one `IN`.
            let form = |d: &Delete| {
                d.terms.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| {
                            let v = if t.equal { String::new() } else { value(t) };
                            (t.column.clone(), t.equal, v)
                        })
                        .collect::<Vec<_>>()
                })
            };
            let (n, filter) = match form(first) {
                Some(f) => {
                    let n = rest
                        .iter()
                        .take(20_000)
                        .take_while(|d| form(d).as_ref() == Some(&f))
                        .count();
                    let terms = first.terms.as_ref().expect("a simple statement");
                    let eq: Vec<String> = terms
                        .iter()
                        .filter(|t| t.equal)
                        .map(|t| ident(&t.column))
                        .collect();
                    let tuples: Vec<String> = rest[..n]
                        .iter()
                        .map(|d| {
                            let values: Vec<String> = d
                                .terms
                                .iter()
                                .flatten()
                                .filter(|t| t.equal)
                                .map(value)
                                .collect();
                            format!("({})", values.join(", "))
                        })
                        .collect();
                    let mut filter = format!("({}) IN ({})", eq.join(", "), tuples.join(", "));
                    for t in terms.iter().filter(|t| !t.equal) {
                        filter.push_str(&format!(" AND {} <> {}", ident(&t.column), value(t)));
                    }
                    (n, filter)
                }
                None => {
                    // ClickHouse parses at most 50 000 syntax-tree elements a query by default.
                    // And at most 16 MB of conditions (a complete source's hold 20 000 keys each).
                    let mut size = 0;
                    let n = rest
                        .iter()
                        .take(500)
                        .take_while(|d| {
                            size += d.cond.len();
                            d.terms.is_none() && (size <= 16 << 20 || std::ptr::eq(*d, first))
                        })
                        .count();
                    let conds: Vec<String> = rest[..n].iter().map(cond_of).collect();
                    (n, conds.join(" OR "))
                }
            };
            self.removal(
                table,
                &format!("_weir_load <> {} AND ({filter})", self.load),
                first.seq,
            )?;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Removal rows for the rows this load stored before one of `deletes` (none simple) that
    /// matches them. They carry the last statement's write number: a row they copy is the latest
    /// of its key (every insert is sent by now), and may be later than the first statement.
    fn remove_own(&self, table: &str, deletes: &[&Delete]) -> anyhow::Result<()> {
        for chunk in deletes.chunks(500) {
            let conds: Vec<String> = chunk
                .iter()
                .map(|d| format!("({} AND _weir_seq < {})", cond_of(d), d.seq))
                .collect();
            let filter = format!("_weir_load = {} AND ({})", self.load, conds.join(" OR "));
            self.removal(table, &filter, chunk[chunk.len() - 1].seq)?;
        }
        Ok(())
    }

    /// `INSERT … SELECT`: a removal row for every visible row of `table` that `filter` matches,
    /// keyed rows with write number `seq`.
    fn removal(&self, table: &str, filter: &str, seq: u64) -> anyhow::Result<()> {
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
        // The rows are chosen inside, where `_weir_*` still name the stored columns (an alias of
        // the outer SELECT would take their place).
        let sql = format!(
            "INSERT INTO {} ({cols}, _weir_deleted, _weir_vkind, _weir_vnum, _weir_vtext, _weir_load, _weir_seq) \
             SELECT {cols}, toUInt8(1) AS _weir_deleted, _weir_vkind, _weir_vnum, _weir_vtext, {identity} FROM (\
             SELECT * FROM ({}) WHERE _weir_deleted = 0 AND {filter})",
            ident(&storage(&self.engine.server, table)),
            winners(&self.engine.server, &t, ""),
            cols = columns.join(", "),
        );
        super::run_with(&self.engine.first, &sql, &[LONG_QUERY])?;
        Ok(())
    }
}

fn cond_of(d: &Delete) -> String {
    if d.cond.is_empty() {
        "1".into()
    } else {
        format!("({})", d.cond)
    }
}

/// The simple DELETEs of a table, indexed by the values of their `=` terms: which of them
/// match a row this load inserts before them.
struct Later<'d> {
    table: &'d Table,
    /// Per set of `=` columns: the statements by their values there.
    by: Vec<(Vec<&'d str>, ByValues<'d>)>,
}

type ByValues<'d> = HashMap<Vec<String>, Vec<&'d Delete>>;

impl<'d> Later<'d> {
    fn new(table: &'d Table, deletes: &'d [Delete]) -> Later<'d> {
        let mut by: Vec<(Vec<&str>, ByValues)> = Vec::new();
        for d in deletes {
            let Some(terms) = &d.terms else { continue };
            let columns: Vec<&str> = terms
                .iter()
                .filter(|t| t.equal)
                .map(|t| t.column.as_str())
                .collect();
            let values: Vec<String> = terms
                .iter()
                .filter(|t| t.equal)
                .map(|t| stored(table, &t.column, &t.value))
                .collect();
            let i = match by.iter().position(|(c, _)| *c == columns) {
                Some(i) => i,
                None => {
                    by.push((columns, HashMap::new()));
                    by.len() - 1
                }
            };
            by[i].1.entry(values).or_default().push(d);
        }
        Later { table, by }
    }

    /// Whether a simple DELETE after `seq` matches the row: compared as the column stores
    /// values, and as SQL compares (a NULL matches no term).
    fn deletes(&self, columns: &[String], row: &[Value], seq: u64) -> bool {
        let value = |column: &str| {
            let i = columns.iter().position(|c| c == column)?;
            let v = stored(self.table, column, &row[i]);
            (v != "NULL").then_some(v)
        };
        self.by.iter().any(|(eq, index)| {
            let Some(key) = eq.iter().map(|c| value(c)).collect::<Option<Vec<String>>>() else {
                return false;
            };
            index.get(&key).is_some_and(|ds| {
                ds.iter().any(|d| {
                    d.seq > seq
                        && d.terms.iter().flatten().filter(|t| !t.equal).all(|t| {
                            let other = stored(self.table, &t.column, &t.value);
                            value(&t.column).is_some_and(|v| other != "NULL" && v != other)
                        })
                })
            })
        })
    }
}

/// `v` as `column` of `t` stores it, as SQL text.
fn stored(t: &Table, column: &str, v: &Value) -> String {
    literal(&Stored::of(t, column).make(v))
}

/// Each column's name as a JSON key and a colon, the start of its value in a JSONEachRow line.
fn json_names(columns: &[String]) -> Vec<String> {
    columns
        .iter()
        .map(|c| {
            let mut s = String::new();
            json_string(&mut s, c);
            s.push(':');
            s
        })
        .collect()
}

/// One JSONEachRow line: the row's columns, then weir's hidden ones.
/// `types` (where given, one per column) makes each value what its column stores.
#[allow(clippy::too_many_arguments)]
fn json_row(
    out: &mut String,
    names: &[String],
    types: &[Stored],
    row: &[Value],
    version: Option<&Version>,
    load: u64,
    seq: u64,
    parent_seq: Option<u64>,
) {
    out.push('{');
    json_pairs(out, names, types, row);
    json_hidden(out, version, load, seq, parent_seq);
}

/// `"name":value,` for each column of the row.
fn json_pairs(out: &mut String, names: &[String], types: &[Stored], row: &[Value]) {
    for (n, (name, value)) in names.iter().zip(row).enumerate() {
        out.push_str(name);
        let value = types.get(n).map_or(Cow::Borrowed(value), |t| t.cow(value));
        json_value(out, &value);
        out.push(',');
    }
}

fn json_value(out: &mut String, value: &Value) {
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
}

/// weir's hidden columns and the end of the line.
fn json_hidden(
    out: &mut String,
    version: Option<&Version>,
    load: u64,
    seq: u64,
    parent_seq: Option<u64>,
) {
    let none = Version(0, 0.0, Cow::Borrowed(""));
    let v = version.unwrap_or(&none);
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
        let load = self.load;
        let w = &mut self.writers[i];
        let mut lines = Vec::with_capacity(children.len());
        for (c, rows) in children.iter().enumerate() {
            let body = &mut w.child_lines[c];
            let start = body.len();
            for r in rows {
                self.seq += 1;
                json_row(
                    body,
                    &w.child_names[c],
                    &w.child_types[c],
                    r,
                    None,
                    load,
                    self.seq,
                    Some(seq),
                );
            }
            lines.push(start..body.len());
        }
        let key = spec
            .key
            .iter()
            .map(|&k| literal(&w.types[k].cow(&row[k])))
            .collect();
        let versioned = spec.version.map(|v| w.types[v].cow(&row[v]));
        let v = version(versioned.as_deref());
        let start = w.lines.len();
        w.lines.push('{');
        json_pairs(&mut w.lines, &w.names, &w.types, row);
        let hidden = w.lines.len() - start;
        json_hidden(&mut w.lines, Some(&v), load, seq, None);
        let line = start..w.lines.len();
        let history = match (&mut w.history, spec.version) {
            (Some(kept), Some(v)) => kept.hold(&w.types, row, v),
            _ => None,
        };
        let Version(kind, num, text) = v;
        w.held.push(Held {
            key,
            version: Version(kind, num, Cow::Owned(text.into_owned())),
            line,
            hidden,
            seq,
            children: lines,
            history,
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
        // A history table closes the gone keys' versions at the newest version kept.
        let history = self.histories.get(&spec.id).cloned();
        let mut read = names.clone();
        if history.is_some()
            && let Some(v) = spec.version
        {
            read.push(ident(&spec.columns[v]));
        }
        let sql = format!(
            "SELECT {} FROM ({}) WHERE _weir_deleted = 0",
            read.join(", "),
            winners_of(
                &self.engine.server,
                &table,
                &format!("{}, {IDENTITY}", read.join(", ")),
                ""
            )
        );
        let kept: HashSet<Vec<String>> = keys
            .iter()
            .map(|k| Stored::row(&types, k).iter().map(literal).collect())
            .collect();
        let mut gone: Vec<String> = Vec::new();
        let mut newest: Option<Value> = None;
        for mut row in self.engine.rows(&sql)? {
            let v = row.split_off(names.len()).pop();
            let key: Vec<String> = row.iter().map(literal).collect();
            if !kept.contains(&key) {
                gone.push(format!("({})", key.join(", ")));
            } else if let Some(v) = v.filter(|v| *v != Value::Null)
                && newest
                    .as_ref()
                    .is_none_or(|n| version(Some(&v)) > version(Some(n)))
            {
                newest = Some(v);
            }
        }
        if let Some(history) = history {
            self.close_history(&history, spec, &gone, newest.as_ref())?;
        }
        // Children of a removed row disappear with it: their view shows only the rows of
        // visible parents.
        // Applied with the books at the commit: a failed load removes nothing.
        for chunk in gone.chunks(BATCH) {
            let seq = self.next();
            self.books.push(Book::Delete(Delete {
                table: spec.table.clone(),
                cond: format!("({}) IN ({})", names.join(", "), chunk.join(", ")),
                terms: None,
                seq,
            }));
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
        if let Some((table, template)) = plain_delete(trimmed) {
            let cond = super::bind(&template, params)?;
            let terms = simple_terms(&template, params);
            let seq = self.next();
            self.books.push(Book::Delete(Delete {
                table,
                cond,
                terms,
                seq,
            }));
            return Ok(0);
        }
        anyhow::bail!("weir cannot run `{}` on ClickHouse", super::short(trimmed))
    }

    /// Reads what is stored: not the books this load holds until its commit.
    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        self.engine.rows(&super::bind(sql, params)?)
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.send_books()
    }

    fn keep_history(&mut self, spec: &WriteSpec, history: &str) -> anyhow::Result<bool> {
        self.table(history)?;
        self.histories.insert(spec.id, history.to_string());
        Ok(true)
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
    fn the_books_simple_conditions_are_told_apart() {
        let p = [
            Value::Text("s".into()),
            Value::Text("f".into()),
            Value::Integer(3),
        ];
        let terms = simple_terms("source = ? AND \"file\" = ? and load_id <> ?", &p).unwrap();
        let read: Vec<(&str, bool)> = terms.iter().map(|t| (t.column.as_str(), t.equal)).collect();
        assert_eq!(read, [("source", true), ("file", true), ("load_id", false)]);
        assert_eq!(terms[2].value, Value::Integer(3));
        // Anything else takes the general path: no `=` term, OR, parentheses, literals, a
        // count of parameters that does not fit.
        assert!(simple_terms("load_id <> ?", &p[2..]).is_none());
        assert!(simple_terms("source = ? OR file = ?", &p[..2]).is_none());
        assert!(simple_terms("(source = ?)", &p[..1]).is_none());
        assert!(simple_terms("source = 'x'", &[]).is_none());
        assert!(simple_terms("source = ?", &p[..2]).is_none());
        assert!(simple_terms("source = ? AND file = ?", &p[..1]).is_none());
    }

    #[test]
    fn versions_sort_as_sqlite_compares_them() {
        let null = version(Some(&Value::Null));
        let one = version(Some(&Value::Integer(1)));
        let half = version(Some(&Value::Real(1.5)));
        let (y2026, b) = (Value::Text("2026".into()), Value::Text("b".into()));
        let text = version(Some(&y2026));
        assert!(null < one && one < half && half < text);
        assert!(version(Some(&b)) > text);
    }
}
