//! Mapper files: parse and check `mappers/<source>.yaml` against the declared tables, then turn
//! raw records into rows (`apply`). Errors name the mapper file, line and column.

mod apply;
pub mod convert;
mod path_context;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::engine::{ChildSpec, Table, WriteSpec};
use crate::error::{Diagnostic, Location, did_you_mean};
use crate::yaml::{self, Spans, push_pointer};
pub use apply::{Mapped, Page, RecordError, field_name};
use convert::{Conversion, TYPE_NAMES, Unit};
pub use path_context::PathPattern;

/// Where a path starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Current,
    Parent,
    Top,
    FetchedAt,
    Context,
    Endpoint,
    Source,
    File,
    Record,
}

const ROOTS: [(&str, Root); 8] = [
    ("$parent", Root::Parent),
    ("$root", Root::Top),
    ("$fetched_at", Root::FetchedAt),
    ("$context", Root::Context),
    ("$endpoint", Root::Endpoint),
    ("$source", Root::Source),
    ("$file", Root::File),
    ("$record", Root::Record),
];

/// A path into a record: a root and key/index segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathExpr {
    pub root: Root,
    pub segments: Vec<String>,
}

impl PathExpr {
    pub fn display(&self) -> String {
        let mut out = match ROOTS.iter().find(|(_, r)| *r == self.root) {
            Some((name, _)) => name.to_string(),
            None => String::new(),
        };
        for s in &self.segments {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(s);
        }
        if out.is_empty() { ".".into() } else { out }
    }
}

#[derive(Debug, Clone)]
pub enum ColumnSource {
    Path(PathExpr),
    Constant(Json),
    /// Filled from this column of the record's own (top) row.
    Link(usize),
}

#[derive(Debug, Clone)]
pub struct ColumnPlan {
    pub name: String,
    pub source: ColumnSource,
    pub conversion: Conversion,
    pub required: bool,
    pub one_of: Option<Arc<Vec<String>>>,
    /// Where the mapper declares it, for errors about the data that point back at the mapper.
    pub declared_at: (usize, usize),
}

/// A nested list to iterate: rows for `table` (an index into `child_specs`) and deeper levels.
#[derive(Debug, Clone)]
pub struct Level {
    pub each: PathExpr,
    pub table: Option<usize>,
    pub children: Vec<Level>,
}

/// The keys a strict mapper reads, as a tree; anything else in a record is an unknown key.
#[derive(Debug, Default, Clone)]
pub struct KeyTree {
    pub keys: BTreeMap<String, KeyTree>,
    pub whole: bool,
    pub elements: Option<Box<KeyTree>>,
}

impl KeyTree {
    fn insert(&mut self, segments: &[String], whole: bool) -> &mut KeyTree {
        let mut node = self;
        for s in segments {
            if node.whole {
                return node;
            }
            if s.parse::<usize>().is_ok() {
                // An index into a list: the list is taken on trust.
                node.whole = true;
                return node;
            }
            node = node.keys.entry(s.clone()).or_default();
        }
        node.whole |= whole;
        node
    }
}

/// Numbers each mapper's `WriteSpec` (see `WriteSpec::id`).
static NEXT_ID: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

/// A checked mapper, ready to map records.
#[derive(Debug)]
pub struct Mapper {
    pub source: String,
    /// The mapper file, relative to the project root.
    pub file: String,
    pub records: Option<PathExpr>,
    /// Where a file without a page envelope finds its `$context`: its path below the source folder.
    pub context_from_path: Option<PathPattern>,
    pub strict: bool,
    /// The source's files hold every record: rows whose key no file has are deleted at load.
    pub complete: bool,
    pub spec: WriteSpec,
    pub columns: Vec<ColumnPlan>,
    pub child_specs: Vec<ChildSpec>,
    pub child_columns: Vec<Vec<ColumnPlan>>,
    pub levels: Vec<Level>,
    pub known: KeyTree,
    /// A hash of everything that decides the rows a record becomes: the mapper file, its
    /// `one_of` lists, the tables it writes, and weir's version. Files loaded by a mapper with
    /// another fingerprint load again.
    pub fingerprint: String,
}

impl Mapper {
    /// The `$context` keys that required columns read: rows of a file without a context lack them.
    pub fn required_context(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for c in self
            .columns
            .iter()
            .chain(self.child_columns.iter().flatten())
        {
            if let (true, ColumnSource::Path(p)) = (c.required, &c.source)
                && p.root == Root::Context
                && let Some(key) = p.segments.first()
                && !keys.contains(&key.as_str())
            {
                keys.push(key);
            }
        }
        keys
    }
}

/// Reads and checks `file` (shown as `shown`) against `tables`. `schemas` is the folder that
/// `one_of` files are relative to.
pub fn load(
    source: &str,
    path: &Path,
    shown: &str,
    tables: &[Table],
    schemas: &Path,
) -> Result<Mapper, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(format!("cannot read the mapper: {e}")).at(Location::file(shown))]
    })?;
    parse(source, &text, shown, tables, schemas)
}

/// `load` of a mapper's text.
pub fn parse(
    source: &str,
    text: &str,
    shown: &str,
    tables: &[Table],
    schemas: &Path,
) -> Result<Mapper, Vec<Diagnostic>> {
    let text = text.to_string();
    let (doc, spans) = yaml::parse(&text).map_err(|e| {
        vec![
            Diagnostic::new(format!("invalid YAML: {}", e.message))
                .at(Location::at(shown, e.line, e.column)),
        ]
    })?;
    let mut p = Parser {
        file: shown,
        spans: &spans,
        tables,
        schemas,
        problems: Vec::new(),
        one_of_cache: Vec::new(),
    };
    let mapper = p.mapper(source, &doc);
    if p.problems.is_empty() {
        let mut mapper = mapper.expect("a mapper is built whenever no problem was found");
        let mut seen = vec![env!("CARGO_PKG_VERSION").to_string(), text.clone()];
        for (name, list) in &p.one_of_cache {
            seen.push(format!("{name}\n{}", list.join("\n")));
        }
        for t in std::iter::once(&mapper.spec).chain(mapper.child_specs.iter().map(|c| &c.spec)) {
            if let Some(table) = tables.iter().find(|x| x.name == t.table) {
                seen.push(table.sql.clone());
            }
        }
        mapper.fingerprint = format!(
            "{:032x}",
            xxhash_rust::xxh3::xxh3_128(seen.join("\u{0}").as_bytes())
        );
        Ok(mapper)
    } else {
        Err(p.problems)
    }
}

struct Parser<'a> {
    file: &'a str,
    spans: &'a Spans,
    tables: &'a [Table],
    schemas: &'a Path,
    problems: Vec<Diagnostic>,
    one_of_cache: Vec<(String, Arc<Vec<String>>)>,
}

fn child(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_string();
    push_pointer(&mut p, key);
    p
}

impl Parser<'_> {
    fn pos(&self, pointer: &str) -> (usize, usize) {
        self.spans.nearest(pointer).unwrap_or((1, 1))
    }

    fn at(&self, pointer: &str) -> Location {
        let (l, c) = self.pos(pointer);
        Location::at(self.file, l, c)
    }

    fn key_at(&self, pointer: &str) -> Location {
        let (l, c) = self.spans.key(pointer).unwrap_or_else(|| self.pos(pointer));
        Location::at(self.file, l, c)
    }

    fn problem(&mut self, d: Diagnostic) {
        self.problems.push(d);
    }

    /// The entries of a mapping, reporting keys outside `allowed`.
    fn entries<'v>(
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

    fn text<'v>(&mut self, v: &'v Json, pointer: &str, what: &str) -> Option<&'v str> {
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.problem(Diagnostic::new(format!("{what} must be text")).at(self.at(pointer)));
                None
            }
        }
    }

    fn table(&mut self, v: &Json, pointer: &str) -> Option<&Table> {
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

    fn path(&mut self, v: &Json, pointer: &str) -> Option<PathExpr> {
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
                self.problem(
                    Diagnostic::new("a path must be text such as `service.id`, or a list of keys such as `[event.type]`")
                        .at(self.at(pointer)),
                );
                return None;
            }
        };
        if let Some(name) = first.strip_prefix('$') {
            let Some((_, root)) = ROOTS.iter().find(|(n, _)| &n[1..] == name) else {
                let mut d =
                    Diagnostic::new(format!("unknown path root `${name}`")).at(self.at(pointer));
                let names: Vec<&str> = ROOTS.iter().map(|(n, _)| *n).collect();
                d.hint = did_you_mean(&first, names.iter().copied())
                    .or_else(|| Some(format!("the roots are {}", list(&names))));
                self.problem(d);
                return None;
            };
            let scalar = matches!(
                root,
                Root::FetchedAt | Root::Endpoint | Root::Source | Root::File | Root::Record
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
            return Some(PathExpr {
                root: *root,
                segments: rest,
            });
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

    fn path_pattern(&mut self, v: &Json, pointer: &str) -> Option<PathPattern> {
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

    fn one_of(&mut self, v: &Json, pointer: &str) -> Option<Arc<Vec<String>>> {
        let name = self.text(v, pointer, "`one_of`")?;
        if let Some((_, list)) = self.one_of_cache.iter().find(|(n, _)| n == name) {
            return Some(list.clone());
        }
        let path = self.schemas.join(name);
        let shown = format!("schemas/{name}");
        let loaded = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read `{shown}`: {e}"))
            .and_then(|text| {
                yaml::parse(&text)
                    .map_err(|e| format!("`{shown}`:{}:{}: {}", e.line, e.column, e.message))
            })
            .and_then(|(v, _)| match v {
                Json::Array(items) if items.iter().all(Json::is_string) => Ok(items
                    .into_iter()
                    .map(|i| i.as_str().unwrap_or_default().to_string())
                    .collect::<Vec<_>>()),
                _ => Err(format!("`{shown}` must be a YAML list of text")),
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
    fn column(&mut self, table: &Table, name: &str, v: &Json, pointer: &str) -> Option<ColumnPlan> {
        let Some(col) = table.column(name) else {
            let mut d =
                Diagnostic::new(format!("column `{name}` is not in table `{}`", table.name))
                    .at(self.key_at(pointer));
            d.hint =
                did_you_mean(name, table.columns.iter().map(|c| c.name.as_str())).or_else(|| {
                    Some(format!(
                        "add it to the table's CREATE TABLE in schemas/, or map one of {}",
                        list(
                            &table
                                .columns
                                .iter()
                                .map(|c| c.name.as_str())
                                .collect::<Vec<_>>()
                        )
                    ))
                });
            self.problem(d);
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
            declared_at,
        };
        if !v.is_object() {
            let path = self.path(v, pointer)?;
            return Some(plan(ColumnSource::Path(path), default));
        }
        let map = self.entries(
            v,
            pointer,
            &format!("column `{name}`"),
            &["from", "value", "type", "unit", "sep", "required", "one_of"],
        )?;
        let source = match (map.get("from"), map.get("value")) {
            (Some(from), None) => ColumnSource::Path(self.path(from, &child(pointer, "from"))?),
            (None, Some(value)) => ColumnSource::Constant(value.clone()),
            _ => {
                self.problem(Diagnostic::new(format!("column `{name}` needs exactly one of `from` (a path) or `value` (a constant)")).at(self.at(pointer)));
                return None;
            }
        };
        let unit = match map.get("unit") {
            None => None,
            Some(Json::String(u)) if u == "s" => Some(Unit::Seconds),
            Some(Json::String(u)) if u == "ms" => Some(Unit::Millis),
            Some(_) => {
                self.problem(
                    Diagnostic::new("`unit` must be `s` or `ms`")
                        .at(self.at(&child(pointer, "unit"))),
                );
                None
            }
        };
        let sep = match map.get("sep") {
            None => None,
            Some(s) => Some(self.text(s, &child(pointer, "sep"), "`sep`")?.to_string()),
        };
        let conversion = match map.get("type") {
            None => default,
            Some(t) => {
                let tp = child(pointer, "type");
                let t = self.text(t, &tp, "`type`")?;
                match Conversion::named(t, unit, sep) {
                    Some(c) => c,
                    None => {
                        let mut d = Diagnostic::new(format!("unknown type `{t}`")).at(self.at(&tp));
                        d.hint = did_you_mean(t, TYPE_NAMES)
                            .or_else(|| Some(format!("the types are {}", list(&TYPE_NAMES))));
                        self.problem(d);
                        return None;
                    }
                }
            }
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
        Some(plan)
    }

    fn columns(&mut self, table: &Table, v: Option<&Json>, pointer: &str) -> Vec<ColumnPlan> {
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
    fn check_filled(&mut self, table: &Table, cols: &[ColumnPlan], pointer: &str) {
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

    fn names(&mut self, v: &Json, pointer: &str, what: &str) -> Vec<String> {
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

    fn mapper(&mut self, source: &str, doc: &Json) -> Option<Mapper> {
        let top = self.entries(
            doc,
            "",
            "a mapper",
            &[
                "records",
                "context_from_path",
                "table",
                "key",
                "version",
                "columns",
                "children",
                "strict",
                "complete",
            ],
        )?;
        let records = top.get("records").and_then(|v| self.path(v, "/records"));
        let context_from_path = top
            .get("context_from_path")
            .and_then(|v| self.path_pattern(v, "/context_from_path"));
        let complete = match top.get("complete") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                self.problem(
                    Diagnostic::new("`complete` must be `true` or `false`")
                        .at(self.at("/complete")),
                );
                false
            }
        };
        let strict = match top.get("strict") {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                self.problem(
                    Diagnostic::new("`strict` must be `true` or `false`").at(self.at("/strict")),
                );
                false
            }
        };
        let Some(table_v) = top.get("table") else {
            self.problem(
                Diagnostic::new("the mapper names no `table`")
                    .at(Location::at(self.file, 1, 1))
                    .hint("add `table: <name of a table in schemas/>`"),
            );
            return None;
        };
        let table = self.table(table_v, "/table")?.clone();
        let mut columns = self.columns(&table, top.get("columns"), "");
        let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        let index = |n: &str| names.iter().position(|c| c == n);

        // The key must be the table's primary key, so upserts have a conflict target.
        let pk: Vec<&str> = table.primary_key();
        let key_names = match top.get("key") {
            Some(k) => self.names(k, "/key", "`key`"),
            None => {
                self.problem(
                    Diagnostic::new("the mapper names no `key`")
                        .at(self.at("/table"))
                        .hint(format!(
                            "add `key: [{}]`, the primary key of `{}`",
                            pk.join(", "),
                            table.name
                        )),
                );
                Vec::new()
            }
        };
        if top.contains_key("key") {
            let mut sorted_key = key_names.clone();
            sorted_key.sort();
            let mut sorted_pk: Vec<String> = pk.iter().map(|s| s.to_string()).collect();
            sorted_pk.sort();
            if pk.is_empty() {
                self.problem(Diagnostic::new(format!("table `{}` has no primary key", table.name)).at(self.at("/key")).hint("declare `PRIMARY KEY (…)` in its CREATE TABLE, so a record loaded twice replaces itself"));
            } else if sorted_key != sorted_pk {
                self.problem(
                    Diagnostic::new(format!(
                        "`key` is [{}] but the primary key of `{}` is [{}]",
                        key_names.join(", "),
                        table.name,
                        pk.join(", ")
                    ))
                    .at(self.at("/key"))
                    .hint("make them the same"),
                );
            }
        }
        let mut key = Vec::new();
        for k in &key_names {
            match index(k) {
                Some(i) => key.push(i),
                None => self.problem(
                    Diagnostic::new(format!("key column `{k}` is not mapped under `columns`"))
                        .at(self.at("/key")),
                ),
            }
        }
        // Key columns always need a value: a NULL key would never meet its next version.
        for &k in &key {
            columns[k].required = true;
        }
        let version = top.get("version").and_then(|v| {
            let name = self.text(v, "/version", "`version`")?;
            let found = index(name);
            if found.is_none() {
                let mut d = Diagnostic::new(format!(
                    "version column `{name}` is not mapped under `columns`"
                ))
                .at(self.at("/version"));
                d.hint = did_you_mean(name, names.iter().map(String::as_str));
                self.problem(d);
            }
            found
        });
        self.check_filled(&table, &columns, "/table");
        let spec = WriteSpec {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            table: table.name.clone(),
            columns: names.clone(),
            key,
            version,
        };

        let mut known = KeyTree::default();
        let mut child_specs = Vec::new();
        let mut child_columns = Vec::new();
        let mut levels = Vec::new();
        let mut ctx = ChildCtx {
            names: &names,
            key: &key_names,
            child_specs: &mut child_specs,
            child_columns: &mut child_columns,
        };
        if let Some(children) = top.get("children") {
            levels = self.levels(children, "/children", &mut ctx, &mut known, &[]);
        }
        for c in &columns {
            note_keys(&mut known, &[], c);
        }
        let mapper = Mapper {
            source: source.to_string(),
            file: self.file.to_string(),
            records,
            context_from_path,
            strict,
            complete,
            spec,
            columns,
            child_specs,
            child_columns,
            levels,
            known,
            fingerprint: String::new(),
        };
        if let Some(pattern) = &mapper.context_from_path {
            let missing: Vec<String> = mapper
                .required_context()
                .into_iter()
                .filter(|k| !pattern.names().any(|n| n == *k))
                .map(|k| format!("`{{{k}}}`"))
                .collect();
            if !missing.is_empty() {
                self.problem(
                    Diagnostic::new(format!(
                        "`context_from_path` gives no {}, which required columns read as `$context`",
                        missing.join(" or ")
                    ))
                    .at(self.at("/context_from_path"))
                    .hint("add the placeholder to the pattern"),
                );
            }
        }
        Some(mapper)
    }

    /// A `children:` list. `scope` is the chain of `each` paths from the top record to here.
    fn levels(
        &mut self,
        v: &Json,
        pointer: &str,
        ctx: &mut ChildCtx<'_>,
        known: &mut KeyTree,
        scope: &[Vec<String>],
    ) -> Vec<Level> {
        let Some(items) = v.as_array() else {
            self.problem(Diagnostic::new("`children` must be a list").at(self.at(pointer)));
            return Vec::new();
        };
        let mut levels = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = child(pointer, &i.to_string());
            let Some(map) = self.entries(
                item,
                &ip,
                "a child",
                &["each", "table", "link", "columns", "children"],
            ) else {
                continue;
            };
            let Some(each) = map
                .get("each")
                .and_then(|e| self.path(e, &child(&ip, "each")))
            else {
                if !map.contains_key("each") {
                    self.problem(
                        Diagnostic::new(
                            "a child needs `each`: the path of the list to take rows from",
                        )
                        .at(self.at(&ip)),
                    );
                }
                continue;
            };
            if each.root != Root::Current {
                self.problem(
                    Diagnostic::new(
                        "`each` is read from the enclosing record; it cannot start with `$`",
                    )
                    .at(self.at(&child(&ip, "each"))),
                );
                continue;
            }
            let mut inner_scope = scope.to_vec();
            inner_scope.push(each.segments.clone());
            let mut table_index = None;
            if let Some(tv) = map.get("table") {
                if let Some(table) = self.table(tv, &child(&ip, "table")).cloned() {
                    let mut cols = self.columns(&table, map.get("columns"), &ip);
                    let mut link = Vec::new();
                    // Whether every `link` entry was taken: a wrong one is reported already.
                    let mut linked_all = true;
                    match map.get("link").and_then(Json::as_object) {
                        None => self.problem(Diagnostic::new(format!("child table `{}` needs `link`: its columns that hold the parent's key", table.name)).at(self.at(&ip)).hint("e.g. `link: {incident_id: id}`")),
                        Some(lm) => {
                            for (child_col, parent) in lm {
                                let lp = child(&child(&ip, "link"), child_col);
                                let Some(parent) = self.text(parent, &lp, "a `link` value") else {
                                    linked_all = false;
                                    continue;
                                };
                                let Some(p) = ctx.names.iter().position(|n| n == parent) else {
                                    let mut d = Diagnostic::new(format!("`{parent}` is not a mapped column of the parent table")).at(self.at(&lp));
                                    d.hint = did_you_mean(parent, ctx.names.iter().map(String::as_str));
                                    self.problem(d);
                                    linked_all = false;
                                    continue;
                                };
                                if table.column(child_col).is_none() {
                                    let mut d = Diagnostic::new(format!("column `{child_col}` is not in table `{}`", table.name)).at(self.key_at(&lp));
                                    d.hint = did_you_mean(child_col, table.columns.iter().map(|c| c.name.as_str()));
                                    self.problem(d);
                                    linked_all = false;
                                    continue;
                                }
                                if cols.iter().any(|c| &c.name == child_col) {
                                    self.problem(Diagnostic::new(format!("column `{child_col}` is both linked and mapped; keep it under `link` only")).at(self.key_at(&lp)));
                                    linked_all = false;
                                    continue;
                                }
                                link.push((cols.len(), p));
                                cols.push(ColumnPlan {
                                    name: child_col.clone(),
                                    source: ColumnSource::Link(p),
                                    conversion: Conversion::Text,
                                    required: true,
                                    one_of: None,
                                    declared_at: self.pos(&lp),
                                });
                            }
                        }
                    }
                    if link.is_empty() {
                        continue;
                    }
                    // A link that leaves out part of the parent's key mixes the children of
                    // parents that share the rest of it.
                    for k in ctx.key.iter().filter(|_| linked_all) {
                        if !link.iter().any(|&(_, p)| &ctx.names[p] == k) {
                            self.problem(
                                Diagnostic::new(format!("`link` does not name `{k}`, a column of the parent's key"))
                                    .at(self.at(&child(&ip, "link")))
                                    .hint(format!("link a column of `{}` to it, e.g. `{k}_of_parent: {k}` under `link`, and put that column in the table's PRIMARY KEY", table.name)),
                            );
                        }
                    }
                    for c in &cols {
                        note_keys(known, &inner_scope, c);
                    }
                    self.check_filled(&table, &cols, &child(&ip, "table"));
                    let pk = table.primary_key();
                    // Children replace a parent's set by its link, and both engines key child
                    // rows the same way only when the primary key holds the link and is filled.
                    for k in &pk {
                        if !cols.iter().any(|c| &c.name == k) {
                            self.problem(
                                Diagnostic::new(format!(
                                    "column `{k}` of the primary key of `{}` is not filled",
                                    table.name
                                ))
                                .at(self.at(&child(&ip, "table")))
                                .hint("map it under `columns`, or name it under `link`"),
                            );
                        }
                    }
                    for &(c, _) in &link {
                        if !pk.is_empty() && !pk.contains(&cols[c].name.as_str()) {
                            self.problem(
                                Diagnostic::new(format!("link column `{}` is not part of the primary key of `{}`", cols[c].name, table.name))
                                    .at(self.at(&child(&ip, "link")))
                                    .hint("add it to the table's PRIMARY KEY, so one parent's rows never replace another's"),
                            );
                        }
                    }
                    if ctx.child_specs.iter().any(|s| s.spec.table == table.name) {
                        self.problem(
                            Diagnostic::new(format!(
                                "child table `{}` is written by two `children` entries",
                                table.name
                            ))
                            .at(self.at(&child(&ip, "table")))
                            .hint("write each child table from one entry"),
                        );
                    }
                    let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
                    let key: Vec<usize> = pk
                        .iter()
                        .filter_map(|k| names.iter().position(|n| n == k))
                        .collect();
                    for &k in &key {
                        cols[k].required = true;
                    }
                    ctx.child_specs.push(ChildSpec {
                        spec: WriteSpec {
                            id: 0,
                            table: table.name.clone(),
                            columns: names,
                            key,
                            version: None,
                        },
                        link,
                    });
                    ctx.child_columns.push(cols);
                    table_index = Some(ctx.child_specs.len() - 1);
                }
            } else if map.contains_key("columns") || map.contains_key("link") {
                self.problem(
                    Diagnostic::new("a child with `columns` or `link` needs a `table`")
                        .at(self.at(&ip)),
                );
            }
            // The list itself is known, even when only deeper levels read it.
            known_scope(known, &inner_scope);
            let children = match map.get("children") {
                Some(c) => self.levels(c, &child(&ip, "children"), ctx, known, &inner_scope),
                None => Vec::new(),
            };
            if table_index.is_none() && children.is_empty() && !map.contains_key("table") {
                self.problem(
                    Diagnostic::new("a child needs a `table`, or `children` of its own")
                        .at(self.at(&ip)),
                );
            }
            levels.push(Level {
                each,
                table: table_index,
                children,
            });
        }
        levels
    }
}

struct ChildCtx<'a> {
    names: &'a [String],
    /// The parent's key columns: a link must name them all.
    key: &'a [String],
    child_specs: &'a mut Vec<ChildSpec>,
    child_columns: &'a mut Vec<Vec<ColumnPlan>>,
}

/// The key tree node for the elements at the end of a chain of `each` paths.
fn known_scope<'k>(known: &'k mut KeyTree, scope: &[Vec<String>]) -> &'k mut KeyTree {
    let mut node = known;
    for each in scope {
        node = node.insert(each, false);
        node = node.elements.get_or_insert_with(Default::default);
    }
    node
}

/// Marks the keys a column reads as known, in the scope its path starts from.
fn note_keys(known: &mut KeyTree, scope: &[Vec<String>], c: &ColumnPlan) {
    let ColumnSource::Path(p) = &c.source else {
        return;
    };
    let depth = match p.root {
        Root::Current => scope.len(),
        Root::Parent => scope.len().saturating_sub(1),
        Root::Top => 0,
        _ => return,
    };
    let node = known_scope(known, &scope[..depth]);
    node.insert(
        &p.segments,
        c.conversion.takes_whole() || p.segments.is_empty(),
    );
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sources that have a mapper, by file stem, in name order.
pub fn sources(mappers: &Path) -> std::io::Result<Vec<String>> {
    let mut names = HashSet::new();
    if mappers.is_dir() {
        for entry in std::fs::read_dir(mappers)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            {
                names.insert(stem.to_string());
            }
        }
    }
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    Ok(names)
}
