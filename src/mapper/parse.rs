//! The parser of mapper files: YAML entries, paths, columns and their types, each problem placed
//! at its line and column.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use super::convert::{Conversion, TYPE_NAMES, Unit};
use super::privacy::{PRIVACY_NAMES, Privacy};
use super::{ColumnPlan, ColumnSource, PathExpr, PathPattern, ROOTS, Root, list};
use crate::engine::Table;
use crate::error::{Diagnostic, Location, did_you_mean};
use crate::yaml::{self, Spans, push_pointer};

pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) spans: &'a Spans,
    pub(super) tables: &'a [Table],
    pub(super) schemas: &'a Path,
    pub(super) problems: Vec<Diagnostic>,
    pub(super) one_of_cache: Vec<(String, Arc<Vec<String>>)>,
}

pub(super) fn child(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_string();
    push_pointer(&mut p, key);
    p
}

impl Parser<'_> {
    pub(super) fn pos(&self, pointer: &str) -> (usize, usize) {
        self.spans.nearest(pointer).unwrap_or((1, 1))
    }

    pub(super) fn at(&self, pointer: &str) -> Location {
        let (l, c) = self.pos(pointer);
        Location::at(self.file, l, c)
    }

    pub(super) fn key_at(&self, pointer: &str) -> Location {
        let (l, c) = self.spans.key(pointer).unwrap_or_else(|| self.pos(pointer));
        Location::at(self.file, l, c)
    }

    pub(super) fn problem(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// The entries of a mapping, reporting keys outside `allowed`.
    pub(super) fn entries<'v>(
        &mut self,
        v: &'v Json,
        pointer: &str,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'v serde_json::Map<String, Json>> {
        let Some(map) = v.as_object() else {
            self.problem(
                Diagnostic::new(format!("{what} must be a mapping of keys to values"))
                    .at(self.at(pointer)),
            );
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let mut d = Diagnostic::new(format!("unknown key `{key}` in {what}"))
                    .at(self.key_at(&child(pointer, key)));
                d.hint = did_you_mean(key, allowed.iter().copied())
                    .or_else(|| Some(format!("the keys here are {}", list(allowed))));
                self.problem(d);
            }
        }
        Some(map)
    }

    pub(super) fn text<'v>(&mut self, v: &'v Json, pointer: &str, what: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.problem(Diagnostic::new(format!("{what} must be text")).at(self.at(pointer)));
                None
            }
        }
    }

    pub(super) fn table(&mut self, v: &Json, pointer: &str) -> Option<&Table> {
        let name = self.text(v, pointer, "`table`")?;
        let tables = self.tables;
        match tables.iter().find(|t| t.name == name) {
            Some(t) => Some(t),
            None => {
                let mut d = Diagnostic::new(format!("table `{name}` is not in schemas/"))
                    .at(self.at(pointer));
                d.hint = did_you_mean(name, tables.iter().map(|t| t.name.as_str())).or_else(|| {
                    Some("add a CREATE TABLE to a file in schemas/, or fix the name".into())
                });
                self.problem(d);
                None
            }
        }
    }

    pub(super) fn path(&mut self, v: &Json, pointer: &str) -> Option<PathExpr> {
        let (first, rest): (String, Vec<String>) = match v {
            Json::String(s) if s == "." => {
                return Some(PathExpr {
                    root: Root::Current,
                    segments: vec![],
                });
            }
            Json::String(s) if s.is_empty() => {
                self.problem(
                    Diagnostic::new("a path is empty")
                        .at(self.at(pointer))
                        .hint("write `.` for the element itself"),
                );
                return None;
            }
            Json::String(s) => {
                let mut parts = s.split('.').map(String::from);
                let first = parts.next().expect("split yields at least one part");
                (first, parts.collect())
            }
            Json::Array(items)
                if !items.is_empty() && items.iter().all(|i| i.is_string() || i.is_u64()) =>
            {
                let mut parts = items.iter().map(|i| match i {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                });
                let first = parts.next().expect("the list is not empty");
                (first, parts.collect())
            }
            _ => {
                let d = Diagnostic::new(
                    "a path must be text such as `service.id`, or a list of keys such as `[event.type]`",
                );
                self.problem(d.at(self.at(pointer)));
                return None;
            }
        };
        if first.starts_with('$') {
            return self.rooted_path(&first, rest, pointer);
        }
        if rest.iter().chain([&first]).any(|s| s.is_empty()) {
            self.problem(
                Diagnostic::new("a path has an empty key between dots")
                    .at(self.at(pointer))
                    .hint(
                        "for a key that contains a dot, write the path as a list: `[event.type]`",
                    ),
            );
            return None;
        }
        let mut segments = vec![first];
        segments.extend(rest);
        Some(PathExpr {
            root: Root::Current,
            segments,
        })
    }

    /// A path from one of the `$` roots.
    fn rooted_path(&mut self, first: &str, rest: Vec<String>, pointer: &str) -> Option<PathExpr> {
        let name = &first[1..];
        let Some((_, root)) = ROOTS.iter().find(|(n, _)| &n[1..] == name) else {
            let mut d =
                Diagnostic::new(format!("unknown path root `${name}`")).at(self.at(pointer));
            let names: Vec<&str> = ROOTS.iter().map(|(n, _)| *n).collect();
            d.hint = did_you_mean(first, names.iter().copied())
                .or_else(|| Some(format!("the roots are {}", list(&names))));
            self.problem(d);
            return None;
        };
        let scalar = matches!(
            root,
            Root::FetchedAt
                | Root::Endpoint
                | Root::Source
                | Root::File
                | Root::Record
                | Root::TimeExtracted
        );
        if scalar && !rest.is_empty() {
            self.problem(
                Diagnostic::new(format!(
                    "`${name}` is a single value; nothing can follow it"
                ))
                .at(self.at(pointer)),
            );
            return None;
        }
        Some(PathExpr {
            root: *root,
            segments: rest,
        })
    }

    pub(super) fn path_pattern(&mut self, v: &Json, pointer: &str) -> Option<PathPattern> {
        let text = self.text(v, pointer, "`context_from_path`")?;
        match PathPattern::parse(text) {
            Ok(p) => Some(p),
            Err(why) => {
                self.problem(
                    Diagnostic::new(format!("`context_from_path` cannot be used: {why}"))
                        .at(self.at(pointer))
                        .hint("write the path below the source folder, e.g. `\"{repo}.json\"`"),
                );
                None
            }
        }
    }

    pub(super) fn one_of(&mut self, v: &Json, pointer: &str) -> Option<Arc<Vec<String>>> {
        let name = self.text(v, pointer, "`one_of`")?;
        if let Some((_, list)) = self.one_of_cache.iter().find(|(n, _)| n == name) {
            return Some(list.clone());
        }
        let path = self.schemas.join(name);
        let relative = format!("schemas/{name}");
        let loaded = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read `{relative}`: {e}"))
            .and_then(|text| {
                yaml::parse(&text)
                    .map_err(|e| format!("`{relative}`:{}:{}: {}", e.line, e.column, e.message))
            })
            .and_then(|(v, _)| match v {
                Json::Array(items) if items.iter().all(Json::is_string) => Ok(items
                    .into_iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()),
                _ => Err(format!("`{relative}` must be a YAML list of text")),
            });
        match loaded {
            Ok(list) => {
                let list = Arc::new(list);
                self.one_of_cache.push((name.to_string(), list.clone()));
                Some(list)
            }
            Err(message) => {
                self.problem(Diagnostic::new(message).at(self.at(pointer)));
                None
            }
        }
    }

    /// One `columns:` entry of `table`.
    pub(super) fn column(
        &mut self,
        table: &Table,
        name: &str,
        v: &Json,
        pointer: &str,
    ) -> Option<ColumnPlan> {
        let Some(col) = table.column(name) else {
            self.unknown_column(table, name, pointer);
            return None;
        };
        let default = Conversion::for_declared(&col.declared);
        let declared_at = self.pos(pointer);
        let plan = |source, conversion| ColumnPlan {
            name: name.to_string(),
            source,
            conversion,
            // A NOT NULL column needs a value in every record, whatever the mapper says.
            required: col.notnull,
            one_of: None,
            bounds: Default::default(),
            known_in: None,
            declared_at,
            privacy: None,
            reads: None,
            reads_except: None,
            format: None,
            or_null: false,
        };
        if !v.is_object() {
            let path = self.path(v, pointer)?;
            return Some(plan(ColumnSource::Path(path), default));
        }
        let keys = &[
            "from", "value", "type", "unit", "sep", "required", "one_of", "min", "max", "above",
            "below", "known_in", "privacy", "format", "or_null",
        ];
        let map = self.entries(v, pointer, &format!("column `{name}`"), keys)?;
        let source = match (map.get("from"), map.get("value")) {
            (Some(from), None) => ColumnSource::Path(self.path(from, &child(pointer, "from"))?),
            (None, Some(value)) => ColumnSource::Constant(value.clone()),
            _ => {
                let d = Diagnostic::new(format!(
                    "column `{name}` needs exactly one of `from` (a path) or `value` (a constant)"
                ));
                self.problem(d.at(self.at(pointer)));
                return None;
            }
        };
        let conversion = match map.get("type") {
            None => default,
            Some(t) => self.conversion(t, map, pointer)?,
        };
        if !conversion.fits(&col.declared) {
            let tp = if map.contains_key("type") {
                child(pointer, "type")
            } else {
                pointer.to_string()
            };
            self.problem(
                Diagnostic::new(format!(
                    "column `{name}` is {} in table `{}`, which `{}` values do not fit",
                    col.declared,
                    table.name,
                    conversion.name()
                ))
                .at(self.at(&tp))
                .hint("change the column's type in schemas/, or the mapper's `type:`"),
            );
            return None;
        }
        let mut plan = plan(source, conversion);
        if let Some(r) = map.get("required") {
            match r.as_bool() {
                Some(b) => plan.required = b || col.notnull,
                None => self.problem(
                    Diagnostic::new("`required` must be `true` or `false`")
                        .at(self.at(&child(pointer, "required"))),
                ),
            }
        }
        if let Some(o) = map.get("one_of") {
            plan.one_of = self.one_of(o, &child(pointer, "one_of"));
        }
        self.bounds(map, pointer, &mut plan);
        if let Some(f) = map.get("format") {
            plan.format = self.format(f, &child(pointer, "format"), &plan.conversion);
        }
        if let Some(v) = map.get("or_null") {
            match v.as_bool() {
                Some(b) => plan.or_null = b,
                None => self.problem(
                    Diagnostic::new("`or_null` must be `true` or `false`")
                        .at(self.at(&child(pointer, "or_null"))),
                ),
            }
        }
        if let Some(k) = map.get("known_in") {
            plan.known_in = self.known_in(k, &child(pointer, "known_in"));
        }
        if let Some(p) = map.get("privacy") {
            plan.privacy = self.privacy(p, &child(pointer, "privacy"), &plan, col);
        }
        Some(plan)
    }

    /// A column's `privacy:`, which must suit the column: text for what rewrites text, a column
    /// that may be NULL for `drop`.
    fn privacy(
        &mut self,
        v: &Json,
        pointer: &str,
        plan: &ColumnPlan,
        col: &crate::engine::Column,
    ) -> Option<Privacy> {
        let name = self.text(v, pointer, "`privacy`")?;
        let Some(privacy) = Privacy::named(name) else {
            let mut d = Diagnostic::new(format!("unknown privacy `{name}`")).at(self.at(pointer));
            d.hint = did_you_mean(name, PRIVACY_NAMES)
                .or_else(|| Some(format!("the choices are {}", list(&PRIVACY_NAMES))));
            self.problem(d);
            return None;
        };
        let rewrites = matches!(
            privacy,
            Privacy::Pseudonymize | Privacy::Mask | Privacy::Redact
        );
        let text_out = matches!(
            plan.conversion,
            Conversion::Text | Conversion::Json | Conversion::Join(_)
        );
        if rewrites && (!text_out || Conversion::for_declared(&col.declared) != Conversion::Text) {
            self.problem(
                Diagnostic::new(format!(
                    "`privacy: {name}` writes text, but column `{}` is {} with `{}` values",
                    plan.name,
                    col.declared,
                    plan.conversion.name()
                ))
                .at(self.at(pointer))
                .hint("give the column a TEXT type in schemas/ and `type: text` (or `json`, `join`), or use `privacy: drop`"),
            );
            return None;
        }
        if privacy == Privacy::Drop && col.notnull {
            self.problem(
                Diagnostic::new(format!(
                    "column `{}` is NOT NULL, so `privacy: drop` cannot leave it empty",
                    plan.name
                ))
                .at(self.at(pointer))
                .hint("drop NOT NULL in schemas/, or leave the column out of the mapper"),
            );
            return None;
        }
        Some(privacy)
    }

    /// `min`, `max`, `above`, `below`: numbers, on a column of numbers.
    fn bounds(
        &mut self,
        map: &serde_json::Map<String, Json>,
        pointer: &str,
        plan: &mut ColumnPlan,
    ) {
        let mut bounds = super::Bounds::default();
        for (key, slot) in [
            ("min", &mut bounds.min),
            ("max", &mut bounds.max),
            ("above", &mut bounds.above),
            ("below", &mut bounds.below),
        ] {
            let Some(v) = map.get(key) else { continue };
            match v.as_f64() {
                Some(b) => *slot = Some(b),
                None => self.problem(
                    Diagnostic::new(format!("`{key}` must be a number"))
                        .at(self.at(&child(pointer, key))),
                ),
            }
        }
        if bounds != super::Bounds::default()
            && !matches!(plan.conversion, Conversion::Integer | Conversion::Real)
        {
            self.problem(
                Diagnostic::new(format!(
                    "column `{}` has bounds, which only numbers can keep",
                    plan.name
                ))
                .at(self.at(pointer))
                .hint("add `type: integer` or `type: real`, or remove the bounds"),
            );
        }
        plan.bounds = bounds;
    }

    /// `format:`, a strptime pattern for a column of dates or times that jiff can read.
    fn format(&mut self, v: &Json, pointer: &str, conversion: &Conversion) -> Option<String> {
        let text = self.text(v, pointer, "`format`")?;
        if !matches!(
            conversion,
            Conversion::Timestamp(_) | Conversion::Epoch(_) | Conversion::Date
        ) {
            self.problem(
                Diagnostic::new(format!(
                    "`format` reads dates and times, but the column is `{}`",
                    conversion.name()
                ))
                .at(self.at(pointer))
                .hint("add `type: timestamp`, `type: epoch` or `type: date`, or remove `format`"),
            );
            return None;
        }
        if !text.contains('%') {
            self.problem(
                Diagnostic::new(format!("`format: {text}` has no `%` field"))
                    .at(self.at(pointer))
                    .hint("write a strptime pattern such as `\"%m/%d/%Y %H:%M:%S\"`"),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// `known_in: table.column`, a column of a table in schemas/.
    fn known_in(&mut self, v: &Json, pointer: &str) -> Option<(String, String)> {
        let text = self.text(v, pointer, "`known_in`")?;
        let found = text.split_once('.').and_then(|(t, c)| {
            let table = self.tables.iter().find(|x| x.name == t)?;
            table
                .columns
                .iter()
                .any(|x| x.name == c)
                .then(|| (t.to_string(), c.to_string()))
        });
        if found.is_none() {
            self.problem(
                Diagnostic::new(format!(
                    "`known_in: {text}` is not a column of a table in schemas/"
                ))
                .at(self.at(pointer))
                .hint("write `table.column`, such as `affected_products.product`"),
            );
        }
        found
    }

    fn unknown_column(&mut self, table: &Table, name: &str, pointer: &str) {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let mut d = Diagnostic::new(format!("column `{name}` is not in table `{}`", table.name))
            .at(self.key_at(pointer));
        d.hint = did_you_mean(name, names.iter().copied()).or_else(|| {
            Some(format!(
                "add it to the table's CREATE TABLE in schemas/, or map one of {}",
                list(&names)
            ))
        });
        self.problem(d);
    }

    /// A column's `type:` (with its `unit:` and `sep:` options).
    fn conversion(
        &mut self,
        t: &Json,
        map: &serde_json::Map<String, Json>,
        pointer: &str,
    ) -> Option<Conversion> {
        let unit = match map.get("unit") {
            None => None,
            Some(Json::String(u)) if u == "s" => Some(Unit::Seconds),
            Some(Json::String(u)) if u == "ms" => Some(Unit::Millis),
            Some(_) => {
                let d = Diagnostic::new("`unit` must be `s` or `ms`");
                self.problem(d.at(self.at(&child(pointer, "unit"))));
                None
            }
        };
        let sep = match map.get("sep") {
            None => None,
            Some(s) => Some(self.text(s, &child(pointer, "sep"), "`sep`")?.to_string()),
        };
        let tp = child(pointer, "type");
        let t = self.text(t, &tp, "`type`")?;
        let found = Conversion::named(t, unit, sep);
        if found.is_none() {
            let mut d = Diagnostic::new(format!("unknown type `{t}`")).at(self.at(&tp));
            d.hint = did_you_mean(t, TYPE_NAMES)
                .or_else(|| Some(format!("the types are {}", list(&TYPE_NAMES))));
            self.problem(d);
        }
        found
    }

    pub(super) fn columns(
        &mut self,
        table: &Table,
        v: Option<&Json>,
        pointer: &str,
    ) -> Vec<ColumnPlan> {
        let Some(v) = v else {
            self.problem(
                Diagnostic::new(format!("`columns` is missing for table `{}`", table.name))
                    .at(self.at(pointer)),
            );
            return Vec::new();
        };
        let cp = child(pointer, "columns");
        let Some(map) = v.as_object() else {
            self.problem(
                Diagnostic::new("`columns` must map column names to paths").at(self.at(&cp)),
            );
            return Vec::new();
        };
        map.iter()
            .filter_map(|(name, v)| self.column(table, name, v, &child(&cp, name)))
            .collect()
    }

    /// Every NOT NULL column of `table` must be filled, or each row would fail in the database.
    pub(super) fn check_filled(&mut self, table: &Table, cols: &[ColumnPlan], pointer: &str) {
        for c in table.columns.iter().filter(|c| c.notnull) {
            if !cols.iter().any(|p| p.name == c.name) {
                self.problem(
                    Diagnostic::new(format!(
                        "column `{}` of table `{}` is NOT NULL, but the mapper does not fill it",
                        c.name, table.name
                    ))
                    .at(self.at(pointer))
                    .hint(format!(
                        "map `{}` under `columns`, or drop NOT NULL in schemas/",
                        c.name
                    )),
                );
            }
        }
    }

    pub(super) fn names(&mut self, v: &Json, pointer: &str, what: &str) -> Vec<String> {
        match v {
            Json::String(s) => vec![s.clone()],
            Json::Array(items) if items.iter().all(Json::is_string) => items
                .iter()
                .map(|i| i.as_str().unwrap_or_default().to_string())
                .collect(),
            _ => {
                self.problem(
                    Diagnostic::new(format!("{what} must be a column name or a list of them"))
                        .at(self.at(pointer)),
                );
                Vec::new()
            }
        }
    }
}
