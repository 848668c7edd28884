//! Mapper files: parse and check `mappers/<source>.yaml` against the declared tables, then turn
//! raw records into rows (`apply`). Errors name the mapper file, line and column.

mod apply;
mod check;
mod children;
pub mod convert;
mod parse;
mod path_context;
pub mod privacy;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::engine::{ChildSpec, Table, WriteSpec};
use crate::error::{Diagnostic, Location};
use crate::yaml;
pub use apply::{Mapped, Page, RecordError, field_name};
use convert::Conversion;
use parse::Parser;
pub use path_context::PathPattern;
use privacy::{Privacy, Secret};

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
    /// A Singer RECORD's `time_extracted`.
    TimeExtracted,
}

const ROOTS: [(&str, Root); 9] = [
    ("$parent", Root::Parent),
    ("$root", Root::Top),
    ("$fetched_at", Root::FetchedAt),
    ("$context", Root::Context),
    ("$endpoint", Root::Endpoint),
    ("$source", Root::Source),
    ("$file", Root::File),
    ("$record", Root::Record),
    ("$time_extracted", Root::TimeExtracted),
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
    /// Bounds a number must keep (`min`, `max`, `above`, `below`).
    pub bounds: Bounds,
    /// `known_in: table.column`: after a load, values that column does not hold are warned of.
    pub known_in: Option<(String, String)>,
    /// Where the mapper declares it, for errors about the data that point back at the mapper.
    pub declared_at: (usize, usize),
    /// `privacy:`: what becomes of the value before it is stored.
    pub privacy: Option<Privacy>,
    /// The keys it reads from the top of the record, list elements left out
    /// (`contact_methods.address`), for `pii:`; `None` when it reads no record field.
    pub reads: Option<Vec<String>>,
    /// For a column of an `each_field` child that reads `value`: the object's fields it does
    /// not read (`except:`). `reads` is then the object, every other field of which it may hold.
    pub reads_except: Option<Vec<String>>,
    /// `format:`: the strptime pattern of a timestamp, epoch or date column.
    pub format: Option<String>,
    /// `or_null: true`: a value the type cannot read, or out of bounds, is NULL, not an error.
    pub or_null: bool,
}

/// The bounds of a number column; a value outside them is an error in the record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub above: Option<f64>,
    pub below: Option<f64>,
}

impl Bounds {
    /// What `x` breaks, as "is not above 0", or `None` when it keeps every bound.
    pub fn broken(&self, x: f64) -> Option<String> {
        if let Some(b) = self.min.filter(|b| x < *b) {
            return Some(format!("is less than {b}"));
        }
        if let Some(b) = self.max.filter(|b| x > *b) {
            return Some(format!("is more than {b}"));
        }
        if let Some(b) = self.above.filter(|b| x <= *b) {
            return Some(format!("is not above {b}"));
        }
        if let Some(b) = self.below.filter(|b| x >= *b) {
            return Some(format!("is not below {b}"));
        }
        None
    }

    /// The bounds in words: "above 0 and below 100".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = self.min {
            parts.push(format!("at least {b}"));
        }
        if let Some(b) = self.above {
            parts.push(format!("above {b}"));
        }
        if let Some(b) = self.max {
            parts.push(format!("at most {b}"));
        }
        if let Some(b) = self.below {
            parts.push(format!("below {b}"));
        }
        parts.join(" and ")
    }
}

/// `singer: {stream: …, key_properties: true}`: which stream of a Singer tap's output is the
/// source's records, and whether its key is the SCHEMA's `key_properties`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Singer {
    pub stream: String,
    /// With `key_properties: true`: the record properties the key columns read, in key order,
    /// which every SCHEMA of the stream must name as its `key_properties` (in any order).
    pub key_properties: Option<Vec<String>>,
}

/// A nested list to iterate: rows for `table` (an index into `child_specs`) and deeper levels.
#[derive(Debug, Clone)]
pub struct Level {
    pub each: PathExpr,
    /// `each_field:`: `each` leads to an object whose fields (but these names) are the elements,
    /// each read as `{name, value}`.
    pub fields: Option<Vec<String>>,
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
    /// Where the raw files are, relative to the project root, when not in `raw_data/<source>/`
    /// (`files:`, a file or a folder: reference lists such as `schemas/reference/slos.yaml`).
    pub files: Option<String>,
    pub records: Option<PathExpr>,
    /// Where a file without a page envelope finds its `$context`: its path below the source folder.
    pub context_from_path: Option<PathPattern>,
    pub strict: bool,
    /// The source's files hold every record: rows whose key no file has are deleted at load.
    pub complete: bool,
    /// `history: true`: the history table, `<table>_history`, that keeps every version of its rows.
    pub history: Option<String>,
    /// `csv: {delimiter: ";"}`: the cell separator of the source's CSV files, else detected.
    pub delimiter: Option<u8>,
    /// `sheet:`: the sheet of the source's `*.xlsx` files to read, else the first.
    pub sheet: Option<String>,
    /// `singer:`: the files hold a Singer tap's messages, and this stream's RECORDs are the records.
    pub singer: Option<Singer>,
    pub spec: WriteSpec,
    pub columns: Vec<ColumnPlan>,
    pub child_specs: Vec<ChildSpec>,
    pub child_columns: Vec<Vec<ColumnPlan>>,
    pub levels: Vec<Level>,
    pub known: KeyTree,
    /// A hash of everything that decides the rows a record becomes: the mapper file, its
    /// `one_of` lists, the tables it writes, weir's version and, when it pseudonymises, the
    /// secret's fingerprint (never the secret). Files loaded by a mapper with another
    /// fingerprint load again.
    pub fingerprint: String,
    /// `WEIR_HASH_SECRET`, for `privacy: pseudonymize`.
    pub secret: Option<Arc<Secret>>,
}

impl Mapper {
    /// Where the source's raw files are, relative to the project root: `files:`, else
    /// `raw_data/<source>`.
    pub fn raw_path(&self) -> String {
        self.files
            .clone()
            .unwrap_or_else(|| format!("raw_data/{}", self.source))
    }

    /// Every column, of its own table and of its children.
    pub fn all_columns(&self) -> impl Iterator<Item = &ColumnPlan> {
        self.columns
            .iter()
            .chain(self.child_columns.iter().flatten())
    }

    /// The first column that `privacy: pseudonymize`s, which needs the secret.
    pub fn pseudonymized(&self) -> Option<&ColumnPlan> {
        self.all_columns()
            .find(|c| c.privacy == Some(Privacy::Pseudonymize))
    }

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

impl Mapper {
    /// A mapper that maps nothing, to read a folder's raw records as a mapper with this
    /// `records:` path would (`weir infer`, before there is a mapper).
    pub fn reader(source: &str, file: &str, records: Option<Vec<String>>) -> Mapper {
        Mapper {
            source: source.to_string(),
            file: file.to_string(),
            files: None,
            records: records.map(|segments| PathExpr {
                root: Root::Current,
                segments,
            }),
            context_from_path: None,
            strict: false,
            complete: false,
            delimiter: None,
            sheet: None,
            singer: None,
            history: None,
            spec: WriteSpec {
                id: 0,
                table: String::new(),
                columns: Vec::new(),
                key: Vec::new(),
                version: None,
            },
            columns: Vec::new(),
            child_specs: Vec::new(),
            child_columns: Vec::new(),
            levels: Vec::new(),
            known: KeyTree::default(),
            fingerprint: String::new(),
            secret: None,
        }
    }
}

/// Reads and checks `file` (shown as `relative`) against `tables`. `schemas` is the folder that
/// `one_of` files are relative to. `secret` pseudonymises; a mapper that needs it and lacks it
/// still parses (`scan-pii` reads mappers without it): the loader refuses to load with it.
pub fn load(
    source: &str,
    path: &Path,
    relative: &str,
    tables: &[Table],
    schemas: &Path,
    secret: Option<&Arc<Secret>>,
) -> Result<Mapper, Vec<Diagnostic>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(format!("cannot read the mapper: {e}")).at(Location::file(relative))]
    })?;
    parse(source, &text, relative, tables, schemas, secret)
}

/// `load` of a mapper's text.
pub fn parse(
    source: &str,
    text: &str,
    relative: &str,
    tables: &[Table],
    schemas: &Path,
    secret: Option<&Arc<Secret>>,
) -> Result<Mapper, Vec<Diagnostic>> {
    let text = text.to_string();
    let (doc, spans) = yaml::parse(&text).map_err(|e| {
        vec![
            Diagnostic::new(format!("invalid YAML: {}", e.message))
                .at(Location::at(relative, e.line, e.column)),
        ]
    })?;
    let mut p = Parser {
        file: relative,
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
        if mapper.pseudonymized().is_some()
            && let Some(secret) = secret
        {
            seen.push(format!("secret {}", secret.fingerprint()));
            mapper.secret = Some(secret.clone());
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

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where `mappers/<source>.yaml` says its raw files are (`files:`), if it does: such a source
/// needs no folder in raw_data/.
pub fn declared_files(mappers: &Path, source: &str) -> Option<String> {
    ["yaml", "yml"].iter().find_map(|e| {
        let text = std::fs::read_to_string(mappers.join(format!("{source}.{e}"))).ok()?;
        let (doc, _) = yaml::parse(&text).ok()?;
        doc.get("files")?.as_str().map(String::from)
    })
}

/// A mapper's `history: true`, as `schema::read` needs it before any mapper is checked: the
/// history table is part of the schema the mappers are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryDecl {
    /// The mapper file, relative to the project root.
    pub file: String,
    pub table: String,
    /// The `version:` column, when the mapper names one.
    pub version: Option<String>,
}

/// Every mapper in `mappers` that says `history: true`, in source order. A mapper that cannot
/// be read or parsed is left out: checking it reports why.
pub fn declared_history(mappers: &Path) -> Vec<HistoryDecl> {
    let mut out = Vec::new();
    for source in sources(mappers).unwrap_or_default() {
        for e in ["yaml", "yml"] {
            let Ok(text) = std::fs::read_to_string(mappers.join(format!("{source}.{e}"))) else {
                continue;
            };
            let Ok((doc, _)) = yaml::parse(&text) else {
                continue;
            };
            if doc.get("history") != Some(&Json::Bool(true)) {
                continue;
            }
            if let Some(table) = doc.get("table").and_then(Json::as_str) {
                out.push(HistoryDecl {
                    file: format!("mappers/{source}.{e}"),
                    table: table.to_string(),
                    version: doc.get("version").and_then(Json::as_str).map(String::from),
                });
            }
        }
    }
    out
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
