//! The top of a mapper: its table, key, version and flags, checked against the schema.

use serde_json::Value as Json;

use super::children::ChildCtx;
use super::children::note_keys;
use super::parse::Parser;
use super::privacy::Privacy;
use super::{ColumnPlan, ColumnSource, KeyTree, Mapper, NEXT_ID, Root, Singer};
use crate::engine::{Table, WriteSpec};
use crate::error::{Diagnostic, Location, did_you_mean};

/// The keys of a mapper's top level.
const TOP_KEYS: [&str; 15] = [
    "files",
    "pii",
    "records",
    "context_from_path",
    "table",
    "key",
    "version",
    "columns",
    "children",
    "strict",
    "complete",
    "history",
    "csv",
    "sheet",
    "singer",
];

impl Parser<'_> {
    /// A whole mapper, or none when a problem stops it (problems are collected either way).
    pub(super) fn mapper(&mut self, source: &str, doc: &Json) -> Option<Mapper> {
        let top = self.entries(doc, "", "a mapper", &TOP_KEYS)?;
        let files = top.get("files").and_then(|v| self.files(v, "/files"));
        let records = top.get("records").and_then(|v| self.path(v, "/records"));
        let context_from_path = top
            .get("context_from_path")
            .and_then(|v| self.path_pattern(v, "/context_from_path"));
        let complete = self.flag(top.get("complete"), "complete");
        let strict = self.flag(top.get("strict"), "strict");
        let wants_history = self.flag(top.get("history"), "history");
        let delimiter = top.get("csv").and_then(|v| self.csv(v));
        let sheet = top
            .get("sheet")
            .and_then(|v| self.text(v, "/sheet", "`sheet`"))
            .map(String::from);
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
        let key_names = self.key_names(top.get("key"), &table);
        let key = self.key_columns(&key_names, &names);
        // Key columns always need a value: a NULL key would never meet its next version.
        for &k in &key {
            columns[k].required = true;
            if let Some(p) = columns[k].privacy.filter(|p| !p.keeps_keys()) {
                self.problem(
                    Diagnostic::new(format!(
                        "key column `{}` cannot be `privacy: {}`: every row needs its own key",
                        columns[k].name,
                        p.name()
                    ))
                    .at(Location::at(
                        self.file,
                        columns[k].declared_at.0,
                        columns[k].declared_at.1,
                    ))
                    .hint("use `privacy: pseudonymize`, which keeps the key unique and joinable"),
                );
            }
        }
        super::children::set_reads(&mut columns, &[]);
        let version = top.get("version").and_then(|v| self.version(v, &names));
        let singer = top
            .get("singer")
            .and_then(|v| self.singer(v, &key, &columns));
        if singer.is_some() && top.contains_key("records") {
            self.problem(
                Diagnostic::new("`records` does not apply to a Singer source: its records are the RECORD messages of the stream")
                    .at(self.key_at("/records"))
                    .hint("remove `records:`; `singer: {stream: …}` picks the records"),
            );
        }
        self.check_filled(&table, &columns, "/table");
        let spec = WriteSpec {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            table: table.name.clone(),
            columns: names.clone(),
            key,
            version,
        };

        let history = if wants_history {
            self.history(&spec)
        } else {
            None
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
            files,
            records,
            context_from_path,
            strict,
            complete,
            history,
            delimiter,
            sheet,
            singer,
            spec,
            columns,
            child_specs,
            child_columns,
            levels,
            known,
            fingerprint: String::new(),
            secret: None,
        };
        self.check_context_pattern(&mapper);
        if let Some(pii) = top.get("pii") {
            self.check_pii(pii, &mapper);
        }
        Some(mapper)
    }

    /// Where the `key:` columns are among the mapped `names`.
    fn key_columns(&mut self, key_names: &[String], names: &[String]) -> Vec<usize> {
        let mut key = Vec::new();
        for k in key_names {
            match names.iter().position(|c| c == k) {
                Some(i) => key.push(i),
                None => {
                    let d =
                        Diagnostic::new(format!("key column `{k}` is not mapped under `columns`"));
                    self.problem(d.at(self.at("/key")));
                }
            }
        }
        key
    }

    /// `files:`, a file or folder inside the project that holds the source's raw files.
    fn files(&mut self, v: &Json, pointer: &str) -> Option<String> {
        let text = self.text(v, pointer, "`files`")?.trim_end_matches('/');
        let path = std::path::Path::new(text);
        let inside = !text.is_empty()
            && path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside {
            self.problem(
                Diagnostic::new(format!("`files: {text}` is not a path inside the project"))
                    .at(self.at(pointer))
                    .hint("write a path relative to the project folder, such as `schemas/reference/slos.yaml`"),
            );
            return None;
        }
        Some(text.to_string())
    }

    /// `csv: {delimiter: ";"}`: the one character between cells.
    fn csv(&mut self, v: &Json) -> Option<u8> {
        let map = self.entries(v, "/csv", "`csv`", &["delimiter"])?;
        let d = map.get("delimiter")?;
        let text = self.text(d, "/csv/delimiter", "`delimiter`")?;
        match text.as_bytes() {
            [b] if b.is_ascii() && !matches!(b, b'"' | b'\n' | b'\r') => Some(*b),
            _ => {
                self.problem(
                    Diagnostic::new(format!(
                        "`delimiter: {text:?}` must be one character other than a quote or a line break"
                    ))
                    .at(self.at("/csv/delimiter"))
                    .hint("write `\",\"`, `\";\"` or `\"\\t\"` (a tab, in double quotes)"),
                );
                None
            }
        }
    }

    /// `singer: {stream: NAME, key_properties: true}`. With `key_properties`, each key column
    /// must read one top-level property of the record, so the SCHEMA's `key_properties` can be
    /// checked against them.
    fn singer(&mut self, v: &Json, key: &[usize], columns: &[ColumnPlan]) -> Option<Singer> {
        let map = self.entries(v, "/singer", "`singer`", &["stream", "key_properties"])?;
        let Some(stream) = map.get("stream") else {
            self.problem(
                Diagnostic::new("`singer` names no `stream`")
                    .at(self.at("/singer"))
                    .hint("write `singer: {stream: <the tap's stream>}`, e.g. `singer: {stream: incidents}`"),
            );
            return None;
        };
        let stream = self.text(stream, "/singer/stream", "`stream`")?.to_string();
        let check = match map.get("key_properties") {
            None | Some(Json::Bool(false)) => false,
            Some(Json::Bool(true)) => true,
            Some(_) => {
                self.problem(
                    Diagnostic::new("`key_properties` must be `true` or `false`")
                        .at(self.at("/singer/key_properties")),
                );
                false
            }
        };
        if !check {
            return Some(Singer {
                stream,
                key_properties: None,
            });
        }
        let mut properties = Vec::new();
        for &k in key {
            let c = &columns[k];
            match &c.source {
                ColumnSource::Path(p) if p.root == Root::Current && p.segments.len() == 1 => {
                    properties.push(p.segments[0].clone());
                }
                _ => {
                    let (line, column) = c.declared_at;
                    self.problem(
                        Diagnostic::new(format!(
                            "key column `{}` must read one top-level property of the record, \
                             to be checked against the stream's `key_properties`",
                            c.name
                        ))
                        .at(Location::at(self.file, line, column))
                        .hint(format!(
                            "map it as `{}: <property>`, or remove `key_properties: true` from `singer:`",
                            c.name
                        )),
                    );
                }
            }
        }
        Some(Singer {
            stream,
            key_properties: Some(properties),
        })
    }

    fn flag(&mut self, v: Option<&Json>, name: &str) -> bool {
        match v {
            None => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => {
                let d = Diagnostic::new(format!("`{name}` must be `true` or `false`"));
                self.problem(d.at(self.at(&format!("/{name}"))));
                false
            }
        }
    }

    /// The `key:` names; the key must be the table's primary key, so upserts have a conflict
    /// target.
    fn key_names(&mut self, v: Option<&Json>, table: &Table) -> Vec<String> {
        let pk: Vec<&str> = table.primary_key();
        let Some(v) = v else {
            self.problem(
                Diagnostic::new("the mapper names no `key`")
                    .at(self.at("/table"))
                    .hint(format!(
                        "add `key: [{}]`, the primary key of `{}`",
                        pk.join(", "),
                        table.name
                    )),
            );
            return Vec::new();
        };
        let key_names = self.names(v, "/key", "`key`");
        let mut sorted_key = key_names.clone();
        sorted_key.sort();
        let mut sorted_pk: Vec<String> = pk.iter().map(|s| s.to_string()).collect();
        sorted_pk.sort();
        if pk.is_empty() {
            self.problem(
                Diagnostic::new(format!("table `{}` has no primary key", table.name))
                    .at(self.at("/key"))
                    .hint("declare `PRIMARY KEY (…)` in its CREATE TABLE, so a record loaded twice replaces itself"),
            );
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
        key_names
    }

    /// `history: true`: the history table `schema::read` made for the table. It keeps a row per
    /// version, so the mapper needs one.
    fn history(&mut self, spec: &WriteSpec) -> Option<String> {
        if spec.version.is_none() {
            self.problem(
                Diagnostic::new("`history: true` needs a `version`")
                    .at(self.at("/history"))
                    .hint("add `version: <column>`, a column that moves whenever the record does, such as `fetched_at`"),
            );
            return None;
        }
        let name = crate::engine::history::history_name(&spec.table);
        if self.tables.iter().any(|t| t.name == name) {
            return Some(name);
        }
        // The schema is read before the mappers: a table it made no history for has a reason
        // reported there, or a key that is not the table's.
        self.problem(
            Diagnostic::new(format!("table `{}` has no history table", spec.table))
                .at(self.at("/history"))
                .hint("fix the problems reported about `key` and `version` first"),
        );
        None
    }

    /// The `version:` column's index among the mapped `names`.
    fn version(&mut self, v: &Json, names: &[String]) -> Option<usize> {
        let name = self.text(v, "/version", "`version`")?;
        let found = names.iter().position(|c| c == name);
        if found.is_none() {
            let mut d = Diagnostic::new(format!(
                "version column `{name}` is not mapped under `columns`"
            ))
            .at(self.at("/version"));
            d.hint = did_you_mean(name, names.iter().map(String::as_str));
            self.problem(d);
        }
        found
    }

    /// Every `$context` key that a required column reads is a placeholder of `context_from_path`.
    fn check_context_pattern(&mut self, mapper: &Mapper) {
        let Some(pattern) = &mapper.context_from_path else {
            return;
        };
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
}

impl Parser<'_> {
    /// `pii:`, the record paths that are personal: every column that reads one (or a key above
    /// or below it) must pseudonymise, drop, mask or redact it.
    fn check_pii(&mut self, v: &Json, mapper: &Mapper) {
        let Some(items) = v.as_array() else {
            self.problem(
                Diagnostic::new("`pii` must be a list of record paths")
                    .at(self.at("/pii"))
                    .hint("e.g. `pii: [email, contact_methods.address]`"),
            );
            return;
        };
        for (i, item) in items.iter().enumerate() {
            let pointer = format!("/pii/{i}");
            let Some(path) = self.path(item, &pointer) else {
                continue;
            };
            if path.root != super::Root::Current {
                self.problem(
                    Diagnostic::new(
                        "a `pii` path is read from the record; it cannot start with `$`",
                    )
                    .at(self.at(&pointer)),
                );
                continue;
            }
            let listed = super::children::without_indexes(&path.segments);
            for c in mapper.all_columns() {
                let Some(reads) = &c.reads else { continue };
                let overlap = match &c.reads_except {
                    // The fields of the object `reads`, but `except`: a listed path reaches it
                    // when it is the object, above it, or a field of it not excepted.
                    Some(except) => {
                        reads.starts_with(&listed)
                            || (listed.starts_with(reads)
                                && listed.get(reads.len()).is_none_or(|f| !except.contains(f)))
                    }
                    None => reads.starts_with(&listed) || listed.starts_with(reads),
                };
                if !overlap || c.privacy.is_some_and(Privacy::protects) {
                    continue;
                }
                let (line, column) = c.declared_at;
                self.problem(
                    Diagnostic::new(format!(
                        "column `{}` stores `{}`, which `pii:` lists as personal, as it is",
                        c.name,
                        listed.join(".")
                    ))
                    .at(Location::at(self.file, line, column))
                    .hint(format!(
                        "add `privacy: pseudonymize` (or `drop` or `mask`) to it, as in `{}: {{from: {}, privacy: pseudonymize}}`",
                        c.name,
                        reads_from(c),
                    )),
                );
            }
        }
    }
}

/// The path a column reads, as the mapper writes it.
fn reads_from(c: &super::ColumnPlan) -> String {
    match &c.source {
        super::ColumnSource::Path(p) => p.display(),
        _ => c.name.clone(),
    }
}
