//! `known_in: table.column`: after a load, the values of a column that another column does not
//! hold are warned of, with a did-you-mean (a product in `schemas/reference/slos.yaml` that no
//! incident names, say). A warning, not an error: the other table may simply not be loaded yet.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value as Json;

use super::Problems;
use super::files::raw_files;
use crate::engine::{Engine, RowSink, Value, quote};
use crate::error::{Diagnostic, Location, did_you_mean};
use crate::mapper::{ColumnPlan, ColumnSource, Mapper, Root};
use crate::yaml::{self, push_pointer};

/// One warning per value of a `known_in` column that its other column lacks.
pub fn unknown_values(
    engine: &dyn Engine,
    mappers: &[Mapper],
    root: &Path,
) -> anyhow::Result<Vec<Diagnostic>> {
    let mut out = Vec::new();
    for m in mappers {
        let own = m.columns.iter().map(|c| (&m.spec.table, c, true));
        let children = m
            .child_specs
            .iter()
            .zip(&m.child_columns)
            .flat_map(|(s, cols)| cols.iter().map(move |c| (&s.spec.table, c, false)));
        for (table, c, top) in own.chain(children) {
            let Some((other, other_column)) = &c.known_in else {
                continue;
            };
            let have = distinct(engine, table, &c.name)?;
            let known = distinct(engine, other, other_column)?;
            for v in have.difference(&known) {
                let place = if top { locate(m, c, v, root) } else { None };
                let place = place.unwrap_or_else(|| {
                    Location::file(if m.files.is_some() {
                        m.raw_path()
                    } else {
                        format!("{}/", m.raw_path())
                    })
                });
                let mut d =
                    Diagnostic::new(format!("`{v}` is in no row of {other}.{other_column}"))
                        .at(place)
                        .field(c.name.clone());
                d.hint = did_you_mean(v, known.iter().map(String::as_str)).or_else(|| {
                    Some(format!(
                        "check the spelling; `known_in: {other}.{other_column}` in {} asks for it",
                        m.file
                    ))
                });
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// The distinct non-NULL values of a column, as text.
fn distinct(engine: &dyn Engine, table: &str, column: &str) -> anyhow::Result<BTreeSet<String>> {
    struct Collect(BTreeSet<String>);
    impl RowSink for Collect {
        fn header(&mut self, _: &[String]) -> anyhow::Result<()> {
            Ok(())
        }
        fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
            match values.first() {
                Some(Value::Text(t)) => self.0.insert(t.clone()),
                Some(Value::Integer(i)) => self.0.insert(i.to_string()),
                Some(Value::Real(f)) => self.0.insert(f.to_string()),
                _ => false,
            };
            Ok(())
        }
    }
    let (t, c) = (quote(table), quote(column));
    let mut sink = Collect(BTreeSet::new());
    engine
        .query(
            &format!("SELECT DISTINCT {c} FROM {t} WHERE {c} IS NOT NULL"),
            &mut sink,
        )
        .map_err(|e| anyhow::anyhow!("cannot read {table}.{column}: {e}"))?;
    Ok(sink.0)
}

/// Where a YAML raw file of the source holds `value` in column `c`: its file, line and column.
fn locate(m: &Mapper, c: &ColumnPlan, value: &str, root: &Path) -> Option<Location> {
    let ColumnSource::Path(path) = &c.source else {
        return None;
    };
    if path.root != Root::Current {
        return None;
    }
    let dir = root.join(m.raw_path());
    let mut ignored = (Problems::default(), Vec::new());
    for file in raw_files(&dir, root, &mut ignored.0, &mut ignored.1) {
        if !file.relative.ends_with(".yaml") && !file.relative.ends_with(".yml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file.path) else {
            continue;
        };
        let Ok((doc, spans)) = yaml::parse(&text) else {
            continue;
        };
        let (list, base) = match &m.records {
            None => (Some(&doc), String::new()),
            Some(r) => {
                let mut at = String::new();
                let mut node = Some(&doc);
                for s in &r.segments {
                    push_pointer(&mut at, s);
                    node = node.and_then(|n| n.get(s));
                }
                (node, at)
            }
        };
        let Some(Json::Array(records)) = list else {
            continue;
        };
        for (i, record) in records.iter().enumerate() {
            let mut node = Some(record);
            for s in &path.segments {
                node = node.and_then(|n| n.get(s));
            }
            let found = match node {
                Some(Json::String(s)) => s == value,
                Some(Json::Number(n)) => n.to_string() == value,
                _ => false,
            };
            if found {
                let mut pointer = base.clone();
                push_pointer(&mut pointer, &i.to_string());
                for s in &path.segments {
                    push_pointer(&mut pointer, s);
                }
                let (line, column) = spans.nearest(&pointer)?;
                return Some(Location::at(&file.relative, line, column));
            }
        }
    }
    None
}
