//! History tables (`history: true`) on ClickHouse, kept by the load itself: the statements of
//! `engine::history` need UPDATE and a transaction. `<table>_history` is stored like every other
//! table, keyed by the table's key and `valid_from`, so its view shows per version the latest
//! write, and every version of a key is one row whatever the order they arrive in.
//!
//! Each batch of a writer's records, superseded or not, goes in with its `valid_to` worked out
//! here: the batch's versions and the stored versions of its keys, in order, each valid until
//! the next (the newest until NULL). A stored version whose `valid_to` that changes is written
//! again with the new one; equal versions replace each other, the last loaded winning, as in the
//! current table. A key's versions go in one INSERT with its record's rows.

use std::collections::HashMap;
use std::ops::Range;

use super::{
    ChLoad, Held, Stored, Version, json_hidden, json_names, json_pairs, json_value, version,
};
use crate::engine::clickhouse::{ident, literal, visible_columns, winners};
use crate::engine::history::{VALID_FROM, VALID_TO};
use crate::engine::{Table, Value, WriteSpec};

/// A writer's history table.
pub(super) struct Kept {
    pub(super) table: Table,
    /// The JSON keys of the writer's columns, then of `valid_from`: a held record's line starts
    /// with them.
    names: Vec<String>,
    /// `"valid_to":`.
    to: String,
    /// The JSON keys of the history table's columns but `valid_to`: a stored row written again.
    rest: Vec<String>,
    /// The key's columns, quoted, and where they are among the history table's.
    key: Vec<String>,
    key_at: Vec<usize>,
    /// Where `valid_from` and `valid_to` are among the history table's columns.
    from_at: usize,
    to_at: usize,
    /// What the history table's columns store.
    types: Vec<Stored>,
    /// The held records' line starts, one buffer reused batch after batch.
    pub(super) lines: String,
}

/// A held record's place in `Kept::lines`: its line up to `valid_to`, and its `valid_from`.
pub(super) struct HeldLine {
    line: Range<usize>,
    from: Range<usize>,
}

impl Kept {
    pub(super) fn new(table: Table, spec: &WriteSpec) -> anyhow::Result<Kept> {
        let at = |name: &str| {
            table
                .columns
                .iter()
                .position(|c| c.name == name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the history table `{}` has no column `{name}`; run `weir initialize`",
                        table.name
                    )
                })
        };
        let key_names: Vec<&str> = spec.key.iter().map(|&k| spec.columns[k].as_str()).collect();
        let key_at = key_names
            .iter()
            .map(|k| at(k))
            .collect::<anyhow::Result<_>>()?;
        let (from_at, to_at) = (at(VALID_FROM)?, at(VALID_TO)?);
        let mut names = json_names(&spec.columns);
        names.extend(json_names(&[VALID_FROM.to_string()]));
        let rest: Vec<String> = table
            .columns
            .iter()
            .filter(|c| c.name != VALID_TO)
            .map(|c| c.name.clone())
            .collect();
        Ok(Kept {
            rest: json_names(&rest),
            types: table
                .columns
                .iter()
                .map(|c| Stored::of(&table, &c.name))
                .collect(),
            table,
            names,
            to: json_names(&[VALID_TO.to_string()]).remove(0),
            key: key_names.iter().map(|k| ident(k)).collect(),
            key_at,
            from_at,
            to_at,
            lines: String::new(),
        })
    }

    /// Starts the line of a record the writer holds (its row made what the columns store by
    /// `types`), unless its version is NULL: such a record has no place in the history.
    pub(super) fn hold(
        &mut self,
        types: &[Stored],
        row: &[Value],
        version: usize,
    ) -> Option<HeldLine> {
        let from = types[version].cow(&row[version]);
        if *from == Value::Null {
            return None;
        }
        let start = self.lines.len();
        let columns = self.names.len() - 1;
        self.lines.push('{');
        json_pairs(&mut self.lines, &self.names[..columns], types, row);
        self.lines.push_str(&self.names[columns]);
        let at = self.lines.len();
        json_value(&mut self.lines, &from);
        let from = at..self.lines.len();
        self.lines.push(',');
        Some(HeldLine {
            line: start..self.lines.len(),
            from,
        })
    }

    /// A stored row's value in column `at`, as JSON.
    fn json(&self, row: &[Value], at: usize) -> String {
        let mut out = String::new();
        json_value(&mut out, &self.types[at].cow(&row[at]));
        out
    }
}

/// A version of one key in a batch: a held record's, or a stored row's.
enum Source<'r> {
    Held(usize),
    Stored(&'r [Value]),
}

impl ChLoad<'_> {
    /// The history of writer `i`'s batch `held`, as the history table and the lines to insert:
    /// its records' versions, and the stored versions of their keys whose `valid_to` changes.
    pub(super) fn history_body(
        &mut self,
        i: usize,
        held: &[Held],
    ) -> anyhow::Result<Option<(String, String)>> {
        let Some(kept) = &self.writers[i].history else {
            return Ok(None);
        };
        // Every key of the batch, its versioned records: a record without a version adds no
        // version, but its key's versions are put in order again (one closed by a complete
        // source reopens), as the statements of the other engines do.
        let mut by_key: HashMap<&[String], Vec<usize>> = HashMap::new();
        for (n, h) in held.iter().enumerate() {
            let versions = by_key.entry(&h.key[..]).or_default();
            if h.history.is_some() {
                versions.push(n);
            }
        }
        let stored = self.stored_history(kept, by_key.keys().copied())?;
        let lines = &kept.lines;
        let line = |n: usize| held[n].history.as_ref().expect("a held version");
        let mut body = String::new();
        let mut seq = self.seq;
        for (key, batch) in &by_key {
            // (version, the order of equals: stored first, then as held, its valid_from, source)
            let mut versions: Vec<(Version, usize, String, Source)> = Vec::new();
            for row in stored.get(*key).into_iter().flatten() {
                let from = &row[kept.from_at];
                let v = version(Some(from));
                let v = Version(v.0, v.1, std::borrow::Cow::Owned(v.2.into_owned()));
                versions.push((v, 0, kept.json(row, kept.from_at), Source::Stored(row)));
            }
            for &n in batch {
                let from = lines[line(n).from.clone()].to_string();
                versions.push((held[n].version.clone(), n + 1, from, Source::Held(n)));
            }
            // In version order; integers beyond 2^53, equal as the sortable version, by their
            // exact value; then stored first, then as held.
            let exact = |v: &(Version, usize, String, Source)| match v.0.0 {
                1 => v.2.parse::<i64>().ok(),
                _ => None,
            };
            versions.sort_by(|a, b| {
                a.0.partial_cmp(&b.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(exact(a).cmp(&exact(b)))
                    .then(a.1.cmp(&b.1))
            });
            // Of equal versions (the same value as the column stores it), the last.
            let mut last = Vec::with_capacity(versions.len());
            for (j, v) in versions.iter().enumerate() {
                if versions.get(j + 1).is_none_or(|next| next.2 != v.2) {
                    last.push(v);
                }
            }
            for (j, (_, _, _, source)) in last.iter().enumerate() {
                let to = last.get(j + 1).map_or("null", |next| next.2.as_str());
                match source {
                    Source::Held(n) => body.push_str(&lines[line(*n).line.clone()]),
                    Source::Stored(row) => {
                        if kept.json(row, kept.to_at) == to {
                            continue;
                        }
                        body.push('{');
                        let values: Vec<Value> = row
                            .iter()
                            .enumerate()
                            .filter(|(c, _)| *c != kept.to_at)
                            .map(|(_, v)| v.clone())
                            .collect();
                        json_pairs(&mut body, &kept.rest, &[], &values);
                    }
                }
                body.push_str(&kept.to);
                body.push_str(to);
                body.push(',');
                seq += 1;
                json_hidden(&mut body, None, self.load, seq, None);
            }
        }
        self.seq = seq;
        let table = kept.table.name.clone();
        if let Some(kept) = &mut self.writers[i].history {
            kept.lines.clear();
        }
        Ok(Some((table, body)))
    }

    /// The stored versions of `keys` (literal tuples of the key), full rows, per key.
    fn stored_history<'k>(
        &self,
        kept: &Kept,
        keys: impl Iterator<Item = &'k [String]>,
    ) -> anyhow::Result<HashMap<Vec<String>, Vec<Vec<Value>>>> {
        let tuples: Vec<String> = keys.map(|k| format!("({})", k.join(", "))).collect();
        let mut out: HashMap<Vec<String>, Vec<Vec<Value>>> = HashMap::new();
        for chunk in tuples.chunks(super::BATCH) {
            let filter = format!(" WHERE ({}) IN ({})", kept.key.join(", "), chunk.join(", "));
            let sql = format!(
                "SELECT {} FROM ({}) WHERE _weir_deleted = 0",
                visible_columns(&kept.table),
                winners(&self.engine.server, &kept.table, &filter)
            );
            for row in self.read(&sql, &kept.table.name)? {
                let key = kept.key_at.iter().map(|&k| literal(&row[k])).collect();
                out.entry(key).or_default().push(row);
            }
        }
        Ok(out)
    }

    /// A complete source lost the keys `gone`: their open versions close at `newest`, the
    /// newest version the current table keeps, or at their own `valid_from` where that is not
    /// newer; so do the open versions of keys the current table no longer shows (a load that
    /// stopped after its removals, before these rows). Held with the books, so they apply at
    /// the commit with the removals.
    pub(super) fn close_history(
        &mut self,
        history: &str,
        spec: &WriteSpec,
        gone: &[String],
        newest: Option<&Value>,
    ) -> anyhow::Result<()> {
        let kept = Kept::new(self.table(history)?.clone(), spec)?;
        let columns: Vec<String> = kept.table.columns.iter().map(|c| c.name.clone()).collect();
        let newest = newest.map(|v| (version(Some(v)), v));
        let key = format!("({})", kept.key.join(", "));
        let shown = format!("SELECT {} FROM {}", kept.key.join(", "), ident(&spec.table));
        let mut queries = vec![format!("{key} NOT IN ({shown})")];
        queries.extend(
            gone.chunks(super::BATCH)
                .map(|chunk| format!("{key} IN ({})", chunk.join(", "))),
        );
        let mut closed = std::collections::HashSet::new();
        for filter in queries {
            let sql = format!(
                "SELECT {} FROM ({}) WHERE _weir_deleted = 0 AND {} IS NULL AND {filter}",
                visible_columns(&kept.table),
                winners(&self.engine.server, &kept.table, ""),
                ident(VALID_TO)
            );
            for mut row in self.read(&sql, history)? {
                let at: Vec<String> = kept.key_at.iter().map(|&k| literal(&row[k])).collect();
                if !closed.insert((at, literal(&row[kept.from_at]))) {
                    continue;
                }
                let from = row[kept.from_at].clone();
                row[kept.to_at] = match &newest {
                    Some((v, value)) if *v > version(Some(&from)) => (*value).clone(),
                    _ => from,
                };
                let seq = self.next();
                self.books.push(super::Book::Insert(
                    history.to_string(),
                    Some(columns.clone()),
                    row,
                    seq,
                ));
            }
        }
        Ok(())
    }
}
