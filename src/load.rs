//! Raw files -> records that remember their file and place -> mapper -> engine. One file is read,
//! parsed and mapped at a time, so memory follows the largest file, not the folder.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value as Json;
use walkdir::WalkDir;

use crate::engine::{Load, Value};
use crate::error::{Diagnostic, Location};
use crate::mapper::convert::Conversion;
use crate::mapper::{Mapped, Mapper, Page, RecordError};
use crate::yaml::{self, Spans, push_pointer};

/// Problems past this many are counted, not listed: the first ones are what to fix.
const MAX_PROBLEMS: usize = 100;

/// What a load did for one source.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SourceStats {
    pub source: String,
    pub files: usize,
    pub records: usize,
    pub written: usize,
    pub superseded: usize,
    /// Rows deleted because a complete source no longer has them.
    pub removed: usize,
    /// Files that are not raw data (not .json, .jsonl, .ndjson, .yaml or .yml).
    pub skipped: Vec<String>,
}

/// Collects problems across files, so one run reports them all.
#[derive(Default)]
pub struct Problems {
    pub list: Vec<Diagnostic>,
    pub more: usize,
}

impl Problems {
    fn push(&mut self, d: Diagnostic) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(d);
        } else {
            self.more += 1;
        }
    }

    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        if self.more > 0 {
            self.list.push(Diagnostic::note(format!(
                "{} more problems not shown; fix the ones above first",
                self.more
            )));
        }
        self.list
    }
}

const KINDS: [&str; 5] = ["json", "jsonl", "ndjson", "yaml", "yml"];

/// The raw files of one source folder, in path order.
pub fn raw_files(
    dir: &Path,
    root: &Path,
    problems: &mut Problems,
    skipped: &mut Vec<String>,
) -> Vec<(std::path::PathBuf, String)> {
    let mut files = Vec::new();
    for entry in WalkDir::new(dir).sort_by_file_name() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                problems.push(
                    Diagnostic::new(format!("cannot read the folder: {e}"))
                        .at(Location::file(shown(e.path().unwrap_or(dir), root))),
                );
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if name.starts_with('.') || !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if KINDS.contains(&ext) {
            files.push((entry.path().to_path_buf(), shown(entry.path(), root)));
        } else {
            skipped.push(shown(entry.path(), root));
        }
    }
    files
}

/// A path relative to the project root, with `/` separators.
pub fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Keys already loaded by strict mappers, where hand-written records must not repeat.
type Seen = HashMap<Vec<String>, String>;

/// Loads every raw file of `mapper`'s source through `load` (or only checks them when `load` is
/// `None`). Problems are collected; the caller decides whether to commit.
pub fn load_source(
    mapper: &Mapper,
    root: &Path,
    mut load: Option<&mut (dyn Load + '_)>,
    problems: &mut Problems,
) -> anyhow::Result<SourceStats> {
    let dir = root.join("raw_data").join(&mapper.source);
    let mut stats = SourceStats {
        source: mapper.source.clone(),
        ..Default::default()
    };
    let mut seen = Seen::new();
    let mut mapped = Mapped::default();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    // The keys loaded from a complete source: every other row of its table goes.
    let mut kept: Vec<Vec<Value>> = Vec::new();
    for (path, file) in raw_files(&dir, root, problems, &mut skipped) {
        stats.files += 1;
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(
                    Diagnostic::new(format!("cannot read the file: {e}")).at(Location::file(&file)),
                );
                continue;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let (line, column) = line_col(e.as_bytes(), offset);
                problems.push(
                    Diagnostic::new("the file is not valid UTF-8")
                        .at(Location::at(&file, line, column))
                        .hint("save the file as UTF-8"),
                );
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let mut file_ctx = FileCtx {
            mapper,
            file: &file,
            spans: None,
            line: None,
            seen: &mut seen,
        };
        let mut each =
            |value: &Json, ctx: &mut FileCtx, problems: &mut Problems| -> anyhow::Result<()> {
                for_each_record(
                    value,
                    ctx,
                    problems,
                    &mut |ctx, page, record, pointer, index, problems| {
                        stats.records += 1;
                        errors.clear();
                        mapper.map(page, record, index, &mut mapped, &mut errors);
                        if mapper.strict {
                            ctx.check_unique(&mapped.row, pointer, &mut errors);
                        }
                        if !errors.is_empty() {
                            for e in errors.drain(..) {
                                problems.push(ctx.diagnostic(pointer, e));
                            }
                            return Ok(());
                        }
                        if problems.list.is_empty()
                            && let Some(load) = load.as_deref_mut()
                        {
                            if mapper.complete {
                                kept.push(
                                    mapper
                                        .spec
                                        .key
                                        .iter()
                                        .map(|&k| mapped.row[k].clone())
                                        .collect(),
                                );
                            }
                            // The database refusing a record (a constraint mapping cannot see) is
                            // still the data's problem: say which record.
                            if let Err(e) = load.write(
                                &mapper.spec,
                                &mapped.row,
                                &mapper.child_specs,
                                &mapped.children,
                            ) {
                                let mut d = ctx.diagnostic(
                                pointer,
                                RecordError {
                                    pointer: String::new(),
                                    at_key: false,
                                    field: "(the record)".into(),
                                    message: format!("the database refused it: {e:#}"),
                                    hint: Some(
                                        "fix the record, or the table's constraints in schemas/"
                                            .into(),
                                    ),
                                },
                            );
                                d.field = None;
                                problems.push(d);
                            }
                        }
                        Ok(())
                    },
                )
            };
        match ext {
            "json" => match serde_json::from_str::<Json>(&text) {
                Ok(v) => each(&v, &mut file_ctx, problems)?,
                Err(e) => problems.push(json_error(&file, &e, 0)),
            },
            "jsonl" | "ndjson" => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Json>(line) {
                        Ok(v) => {
                            file_ctx.line = Some(i + 1);
                            each(&v, &mut file_ctx, problems)?;
                        }
                        Err(e) => problems.push(json_error(&file, &e, i)),
                    }
                }
            }
            _ => match yaml::parse(&text) {
                Ok((v, spans)) => {
                    file_ctx.spans = Some(spans);
                    each(&v, &mut file_ctx, problems)?;
                }
                Err(e) => problems.push(
                    Diagnostic::new(format!("invalid YAML: {}", e.message))
                        .at(Location::at(&file, e.line, e.column)),
                ),
            },
        }
    }
    if let Some(load) = load.filter(|_| problems.list.is_empty()) {
        match load.flush() {
            Ok(counts) => {
                stats.written = counts.written;
                stats.superseded = counts.superseded;
                if mapper.complete {
                    stats.removed = load.retain(&mapper.spec, &mapper.child_specs, &kept)?;
                }
            }
            // An engine that writes in batches finds a refused row only here.
            Err(e) => problems.push(
                Diagnostic::new(format!("the database refused rows of this source: {e:#}"))
                    .at(Location::file(format!("raw_data/{}/", mapper.source)))
                    .hint("fix the records, or the table's constraints in schemas/"),
            ),
        }
    }
    stats.skipped = skipped;
    Ok(stats)
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

fn json_error(file: &str, e: &serde_json::Error, line_offset: usize) -> Diagnostic {
    Diagnostic::new(
        format!("invalid JSON: {e}")
            .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
    )
    .at(Location::at(file, e.line() + line_offset, e.column()))
}

struct FileCtx<'a> {
    mapper: &'a Mapper,
    file: &'a str,
    spans: Option<Spans>,
    /// The line of the current JSONL value.
    line: Option<usize>,
    seen: &'a mut Seen,
}

impl FileCtx<'_> {
    /// A record problem, placed as exactly as the file allows.
    fn diagnostic(&self, record_pointer: &str, e: RecordError) -> Diagnostic {
        let full = if e.pointer.starts_with('$') {
            e.pointer.clone()
        } else {
            format!("{record_pointer}{}", e.pointer)
        };
        let mut location = Location::file(self.file);
        let field;
        if let Some(spans) = &self.spans {
            let pos = if e.at_key {
                spans.key(&full)
            } else {
                spans.nearest(&full)
            };
            if let Some((l, c)) = pos {
                location = Location::at(self.file, l, c);
            }
            field = e.field;
        } else {
            location.line = self.line;
            field = crate::mapper::field_name(&full);
        }
        let mut d = Diagnostic::new(e.message).at(location).field(field);
        d.hint = e.hint;
        d
    }

    fn check_unique(&mut self, row: &[Value], pointer: &str, errors: &mut Vec<RecordError>) {
        if self.mapper.spec.key.iter().any(|&k| row[k] == Value::Null) {
            return; // Already reported as a missing key.
        }
        let key: Vec<String> = self
            .mapper
            .spec
            .key
            .iter()
            .map(|&k| format!("{:?}", row[k]))
            .collect();
        let here = match &self.spans {
            Some(s) => match s.nearest(pointer) {
                Some((l, c)) => format!("{}:{l}:{c}", self.file),
                None => self.file.to_string(),
            },
            None => self.file.to_string(),
        };
        if let Some(first) = self.seen.get(&key) {
            let names: Vec<&str> = self
                .mapper
                .spec
                .key
                .iter()
                .map(|&k| self.mapper.spec.columns[k].as_str())
                .collect();
            errors.push(RecordError {
                pointer: String::new(),
                at_key: false,
                field: names.join(", "),
                message: format!("the same {} as the record at {first}", names.join(" and ")),
                hint: Some(
                    "each record must appear once: merge the two, or correct one of them".into(),
                ),
            });
        } else {
            self.seen.insert(key, here);
        }
    }
}

type OnRecord<'f> =
    dyn FnMut(&mut FileCtx, &Page, &Json, &str, usize, &mut Problems) -> anyhow::Result<()> + 'f;

/// Unwraps a page envelope, finds the record list and calls `f` per record with its pointer.
fn for_each_record(
    value: &Json,
    ctx: &mut FileCtx,
    problems: &mut Problems,
    f: &mut OnRecord,
) -> anyhow::Result<()> {
    let file = ctx.file;
    let mut page = Page {
        file,
        ..Page::default()
    };
    let (body, mut pointer) = match value {
        Json::Object(map) if map.contains_key("weir_page") => {
            page.fetched_at = map.get("fetched_at");
            page.context = map.get("context");
            page.endpoint = map.get("endpoint");
            page.source = map.get("source");
            match map.get("body") {
                Some(body) => (body, "/body".to_string()),
                None => {
                    problems.push(
                        Diagnostic::new("a weir page envelope has no `body`")
                            .at(Location {
                                line: ctx.line,
                                ..Location::file(file)
                            })
                            .hint("the vendor's response goes under `body`"),
                    );
                    return Ok(());
                }
            }
        }
        other => (other, String::new()),
    };
    if let Some(ts) = page.fetched_at
        && let Err(e) = crate::mapper::convert::convert(Some(ts), &Conversion::Timestamp(None))
    {
        problems.push(
            Diagnostic::new(e.message)
                .at(Location {
                    line: ctx.line,
                    ..Location::file(file)
                })
                .field("fetched_at"),
        );
        return Ok(());
    }
    let mut list = body;
    if let Some(path) = &ctx.mapper.records {
        for seg in &path.segments {
            match list.get(seg) {
                Some(v) => {
                    push_pointer(&mut pointer, seg);
                    list = v;
                }
                None => {
                    let found = match list {
                        Json::Object(m) => format!(
                            "its keys are {}",
                            m.keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Json::Array(_) => "it is a list".into(),
                        _ => "it is not an object".into(),
                    };
                    let mut d = Diagnostic::new(format!(
                        "the body has no `{}`, where the mapper expects the records ({found})",
                        path.display()
                    ))
                    .at(Location {
                        line: ctx.line,
                        ..Location::file(file)
                    });
                    d.hint = Some(format!(
                        "is this file in the right folder? Otherwise fix `records:` in {}",
                        ctx.mapper.file
                    ));
                    problems.push(d);
                    return Ok(());
                }
            }
        }
    }
    match list {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = pointer.clone();
                push_pointer(&mut p, &i.to_string());
                f(ctx, &page, item, &p, ctx.line.unwrap_or(i), problems)?;
            }
        }
        Json::Null => {}
        other => f(ctx, &page, other, &pointer, ctx.line.unwrap_or(0), problems)?,
    }
    Ok(())
}
