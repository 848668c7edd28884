//! A file's bytes -> JSON, JSONL or YAML values (or CSV and XLSX rows, from sheet.rs, or Singer
//! messages, from singer.rs) -> page envelopes unwrapped -> mapped records, each placed at its
//! file, line and column.

use std::path::PathBuf;

use serde_json::Value as Json;

use super::files::RawFile;
use super::pipeline::{Item, Rec, Reject, Strict};
use super::sheet::{self, Row};
use super::singer;
use crate::bookkeeping::Rejected;
use crate::engine::Value;
use crate::error::{Diagnostic, Location};
use crate::mapper::convert::Conversion;
use crate::mapper::{Mapped, Mapper, Page, RecordError};
use crate::yaml::{self, Spans, push_pointer};

/// Maps the records of one file's text as run-etl would, without a database: how many records
/// map, and every problem (strict sources' repeated keys aside). For the fuzz targets.
pub fn check_text(mapper: &Mapper, relative: &str, text: &str) -> (usize, Vec<Diagnostic>) {
    let raw = RawFile {
        path: PathBuf::from(relative),
        relative: relative.to_string(),
        within: relative.rsplit('/').next().unwrap_or(relative).to_string(),
        size: 0,
        modified_ns: 0,
    };
    let mut mapped = 0;
    let mut problems = Vec::new();
    parse_file(
        mapper,
        &raw,
        text.as_bytes().to_vec(),
        &mut |item| match item {
            Item::Record(_) => mapped += 1,
            Item::Reject(r) => problems.extend(r.diagnostics),
            Item::FileProblem(d) => problems.push(d),
            Item::FileEnd(_) => {}
        },
    );
    (mapped, problems)
}

/// A strict source's record key, unless part of it is missing (reported as such already).
fn strict_key(
    mapper: &Mapper,
    row: &[Value],
    ctx: &FileCtx,
    pointer: &str,
    record: &Json,
) -> Option<Strict> {
    let key = &mapper.spec.key;
    if !mapper.strict
        || key
            .iter()
            .any(|&k| row.get(k).is_none_or(|v| *v == Value::Null))
    {
        return None;
    }
    Some(Strict {
        key: key.iter().map(|&k| format!("{:?}", row[k])).collect(),
        place: ctx.place(pointer),
        rejected: ctx.rejected(pointer, record),
    })
}

/// Parses a file's bytes and maps its records; says whether the file held nothing at all.
pub(super) fn parse_file(
    mapper: &Mapper,
    raw: &RawFile,
    bytes: Vec<u8>,
    emit: &mut dyn FnMut(Item),
) -> bool {
    // A strict source keeps each record whole beside its key (for a repeat's message), and
    // reads every key to find the unknown ones.
    parse_file_with(mapper, raw, bytes, !mapper.strict, emit)
}

/// `parse_file`, with JSON records read cut down first (`prune`) or whole.
pub(super) fn parse_file_with(
    mapper: &Mapper,
    raw: &RawFile,
    bytes: Vec<u8>,
    prune: bool,
    emit: &mut dyn FnMut(Item),
) -> bool {
    let mut records = RecordMapper {
        mapper,
        mapped: Mapped::default(),
        errors: Vec::new(),
    };
    read_file(
        mapper,
        raw,
        bytes,
        prune,
        emit,
        &mut |ctx, page, record, pointer, index, emit| {
            records.map(ctx, page, record, pointer, index, emit)
        },
    )
}

/// A raw record before any mapping, as `weir infer` reads it: what run-etl would map.
pub struct RawRecord<'a> {
    pub record: &'a Json,
    pub page: &'a Page<'a>,
    /// The record is the whole body of its file or page (no `records:` path led to it, and it
    /// was not one element of a list or a JSONL line or a spreadsheet row).
    pub whole_body: bool,
}

/// Reads the records of one file as run-etl would, handing each over unmapped; problems of the
/// file (bad JSON, a `records:` path its body lacks) go to `problem`.
pub fn read_raw(
    mapper: &Mapper,
    raw: &RawFile,
    bytes: Vec<u8>,
    problem: &mut dyn FnMut(Diagnostic),
    each: &mut dyn FnMut(RawRecord),
) -> bool {
    let mut emit = |item: Item| {
        if let Item::FileProblem(d) = item {
            problem(d);
        }
    };
    read_file(
        mapper,
        raw,
        bytes,
        false,
        &mut emit,
        &mut |ctx, page, record, pointer, _, _| {
            each(RawRecord {
                record,
                page,
                whole_body: !page.text_cells
                    && (pointer == "/body" || (pointer.is_empty() && ctx.line.is_none())),
            })
        },
    )
}

/// Parses a file's bytes and hands each record to `on_record`; says whether the file held
/// nothing at all.
/// With `prune`, JSON records are first read cut down to what the mapper reads (prune.rs).
fn read_file(
    mapper: &Mapper,
    raw: &RawFile,
    bytes: Vec<u8>,
    prune: bool,
    emit: &mut dyn FnMut(Item),
    on_record: &mut OnRecord,
) -> bool {
    let file = raw.relative.as_str();
    let ext = raw.path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (text, bytes) = if ext == "xlsx" {
        if bytes.is_empty() {
            return true;
        }
        (String::new(), bytes)
    } else {
        let Some(text) = utf8(file, bytes, emit) else {
            return false;
        };
        if text.trim().is_empty() {
            return true;
        }
        (text, Vec::new())
    };
    let path_context = mapper
        .context_from_path
        .as_ref()
        .and_then(|p| p.context(&raw.within));
    let mut ctx = FileCtx {
        mapper,
        file,
        within: &raw.within,
        spans: None,
        line: None,
        path_context: path_context.as_ref(),
        lacks_context: path_context.is_none() && !mapper.required_context().is_empty(),
        context_refused: false,
        line_text: None,
    };
    if let Some(tap) = &mapper.singer {
        singer::messages(tap, &text, ext, &mut ctx, on_record, emit);
        return false;
    }
    match ext {
        "csv" | "tsv" => {
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let delimiter = match mapper.delimiter {
                Some(d) => d,
                None if ext == "tsv" => b'\t',
                None => sheet::detect_delimiter(text),
            };
            sheet::csv_rows(file, text, delimiter, &mut |row| {
                map_row(&mut ctx, on_record, row, true, emit);
            });
        }
        "xlsx" => sheet::xlsx_rows(file, bytes, mapper.sheet.as_deref(), &mut |row| {
            map_row(&mut ctx, on_record, row, false, emit);
        }),
        "json" => {
            if prune
                && let Some(v) = super::prune::pruned(&text, mapper, false)
                && mapped_cleanly(&v, &mut ctx, emit, on_record)
            {
                return false;
            }
            match serde_json::from_str::<Json>(&text) {
                Ok(v) => for_each_record(&v, &mut ctx, emit, on_record),
                Err(e) => emit(Item::FileProblem(json_error(file, &e, 0))),
            }
        }
        "jsonl" | "ndjson" => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                if prune && let Some(v) = super::prune::pruned(line, mapper, true) {
                    ctx.line = Some(i + 1);
                    if mapped_cleanly(&v, &mut ctx, emit, on_record) {
                        continue;
                    }
                }
                match serde_json::from_str::<Json>(line) {
                    Ok(v) => {
                        ctx.line = Some(i + 1);
                        for_each_record(&v, &mut ctx, emit, on_record);
                    }
                    // One bad line is one bad record; the other lines still count.
                    Err(e) => emit(Item::FileProblem(json_error(file, &e, i))),
                }
            }
        }
        _ => match yaml::parse(&text) {
            Ok((v, spans)) => {
                ctx.spans = Some(spans);
                for_each_record(&v, &mut ctx, emit, on_record);
            }
            Err(e) => emit(Item::FileProblem(
                Diagnostic::new(format!("invalid YAML: {}", e.message))
                    .at(Location::at(file, e.line, e.column)),
            )),
        },
    }
    false
}

/// Maps the records of a value cut down to what the mapper reads (prune.rs), holding their
/// items back: they are handed over only when every one is a mapped record. Otherwise nothing
/// is, and the caller maps the value read whole, whose problems are the ones to tell.
fn mapped_cleanly(
    value: &Json,
    ctx: &mut FileCtx,
    emit: &mut dyn FnMut(Item),
    on_record: &mut OnRecord,
) -> bool {
    let mut held = Vec::new();
    let mut clean = true;
    let refused = ctx.context_refused;
    for_each_record(
        value,
        ctx,
        &mut |item| match item {
            Item::Record(_) if clean => held.push(item),
            _ => clean = false,
        },
        on_record,
    );
    if clean {
        held.into_iter().for_each(emit);
    } else {
        ctx.context_refused = refused;
        #[cfg(test)]
        FALLBACKS.with(|n| n.set(n.get() + 1));
    }
    clean
}

#[cfg(test)]
thread_local! {
    /// How often a cut-down value did not map cleanly and was read whole again.
    pub(super) static FALLBACKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Maps one spreadsheet row (CSV when `text_cells`), or hands over why it cannot be read.
fn map_row(
    ctx: &mut FileCtx,
    on_record: &mut OnRecord,
    row: Result<Row, Diagnostic>,
    text_cells: bool,
    emit: &mut dyn FnMut(Item),
) {
    let row = match row {
        Ok(row) => row,
        Err(d) => return emit(Item::FileProblem(d)),
    };
    if ctx.refuses_without_context(emit) {
        return;
    }
    let page = Page {
        file: ctx.file,
        context: ctx.path_context,
        text_cells,
        ..Page::default()
    };
    ctx.spans = Some(row.spans);
    on_record(ctx, &page, &row.record, "", row.line, emit);
}

/// The file's text, or the problem that it is not UTF-8.
fn utf8(file: &str, bytes: Vec<u8>, emit: &mut dyn FnMut(Item)) -> Option<String> {
    String::from_utf8(bytes)
        .map_err(|e| {
            let (line, column) = line_col(e.as_bytes(), e.utf8_error().valid_up_to());
            emit(Item::FileProblem(
                Diagnostic::new("the file is not valid UTF-8")
                    .at(Location::at(file, line, column))
                    .hint("save the file as UTF-8"),
            ));
        })
        .ok()
}

/// Maps records one by one, reusing its buffers.
pub(super) struct RecordMapper<'a> {
    mapper: &'a Mapper,
    mapped: Mapped,
    errors: Vec<RecordError>,
}

impl RecordMapper<'_> {
    /// Maps `record` (at `pointer` in its file) and hands over the record or its rejection.
    pub(super) fn map(
        &mut self,
        ctx: &mut FileCtx,
        page: &Page,
        record: &Json,
        pointer: &str,
        index: usize,
        emit: &mut dyn FnMut(Item),
    ) {
        let mapper = self.mapper;
        self.errors.clear();
        mapper.map(page, record, index, &mut self.mapped, &mut self.errors);
        if !self.errors.is_empty() && ctx.spans.is_none() {
            // Only a bad record pays for placing its fields in the line.
            ctx.spans = ctx
                .line_text
                .zip(ctx.line)
                .and_then(|(t, l)| line_spans(t, l));
        }
        let strict = strict_key(mapper, &self.mapped.row, ctx, pointer, record);
        if self.errors.is_empty() {
            emit(Item::Record(Box::new(Rec {
                row: std::mem::take(&mut self.mapped.row),
                children: std::mem::take(&mut self.mapped.children),
                at: ctx.record_location(pointer),
                strict,
            })));
            return;
        }
        // Fields as the record names them (`stats.time_of_rca`, `id`).
        let fields: Vec<String> = self
            .errors
            .iter()
            .map(|e| e.field.clone())
            .filter(|f| !f.starts_with('('))
            .collect();
        let diagnostics: Vec<Diagnostic> = self
            .errors
            .drain(..)
            .map(|e| ctx.diagnostic(pointer, e))
            .collect();
        let rejected = Rejected {
            field: Some(fields.join(", ")).filter(|f| !f.is_empty()),
            reason: diagnostics
                .iter()
                .map(|d| d.message.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            ..ctx.rejected(pointer, record)
        };
        emit(Item::Reject(Box::new(Reject {
            diagnostics,
            rejected,
            strict,
        })));
    }
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

/// Where each field of a one-line JSON value on line `line` is (JSON is YAML's flow style), or
/// none when the YAML reader cannot follow the line.
pub(super) fn line_spans(text: &str, line: usize) -> Option<Spans> {
    let (_, mut spans) = yaml::parse(text).ok()?;
    spans.shift_lines(line - 1);
    Some(spans)
}

pub(super) fn json_error(file: &str, e: &serde_json::Error, line_offset: usize) -> Diagnostic {
    Diagnostic::new(
        format!("invalid JSON: {e}")
            .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
    )
    .at(Location::at(file, e.line() + line_offset, e.column()))
}

pub(super) struct FileCtx<'a> {
    pub(super) mapper: &'a Mapper,
    pub(super) file: &'a str,
    /// The file below its source folder.
    within: &'a str,
    pub(super) spans: Option<Spans>,
    /// The line of the current JSONL value: a line without an envelope is one record.
    pub(super) line: Option<usize>,
    /// The `$context` of values without an envelope, from the file's path.
    pub(super) path_context: Option<&'a Json>,
    /// Values without an envelope lack a context their rows need (decided once per file).
    pub(super) lacks_context: bool,
    /// That has been said.
    pub(super) context_refused: bool,
    /// The text of the current line, when a bad record's fields are to be placed in it (Singer).
    pub(super) line_text: Option<&'a str>,
}

impl FileCtx<'_> {
    /// A record problem, placed as exactly as the file allows.
    fn diagnostic(&self, record_pointer: &str, e: RecordError) -> Diagnostic {
        let full = if e.pointer == "$time_extracted" && self.line_text.is_some() {
            // The Singer message's own field, beside its `record`.
            "/time_extracted".to_string()
        } else if e.pointer.starts_with('$') {
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
            match pos {
                Some((l, c)) => location = Location::at(self.file, l, c),
                None => location.line = self.line,
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

    /// The file, and the line of the current JSONL value.
    fn line_location(&self) -> Location {
        Location {
            line: self.line,
            ..Location::file(self.file)
        }
    }

    /// Whether a value without an envelope cannot be mapped here (its rows need a `$context`
    /// the path does not give); the file's one problem for it is emitted the first time.
    pub(super) fn refuses_without_context(&mut self, emit: &mut dyn FnMut(Item)) -> bool {
        if self.lacks_context && !self.context_refused {
            self.context_refused = true;
            emit(Item::FileProblem(self.no_context()));
        }
        self.lacks_context
    }

    /// A value without an envelope, in a source whose rows need a `$context` that its path does
    /// not give: one problem for the file.
    pub(super) fn no_context(&self) -> Diagnostic {
        let mapper = self.mapper;
        let keys = mapper.required_context();
        let named: Vec<String> = keys.iter().map(|k| format!("`$context.{k}`")).collect();
        let example: Vec<String> = keys.iter().map(|k| format!("\"{k}\": …")).collect();
        let envelope = format!(
            "save the body in a weir page envelope with `\"context\": {{{}}}`",
            example.join(", ")
        );
        let (why, hint) = match &mapper.context_from_path {
            Some(p) => (
                format!(
                    "and its path `{}` does not match `context_from_path: \"{}\"` of {}",
                    self.within, p.text, mapper.file
                ),
                format!("name the file as that pattern says, or {envelope}"),
            ),
            None => {
                let pattern: Vec<String> = keys.iter().map(|k| format!("{{{k}}}")).collect();
                (
                    format!("and {} declares no `context_from_path`", mapper.file),
                    format!(
                        "add `context_from_path: \"{}.json\"` to {} and name the file so, or {envelope}",
                        pattern.join("__"),
                        mapper.file
                    ),
                )
            }
        };
        let mut d = Diagnostic::new(format!(
            "this file has no weir page envelope, so {} has no value, {why}",
            named.join(" and ")
        ))
        .at(Location {
            line: self.line,
            ..Location::file(self.file)
        });
        d.hint = Some(hint);
        d
    }

    /// Where the record at `pointer` starts, as exactly as the file allows.
    fn record_location(&self, pointer: &str) -> Location {
        match self.spans.as_ref().and_then(|s| s.nearest(pointer)) {
            Some((l, c)) => Location::at(self.file, l, c),
            None => Location {
                line: self.line,
                record: (self.line.is_none() && !pointer.is_empty())
                    .then(|| format!("record {pointer}")),
                ..Location::file(self.file)
            },
        }
    }

    /// `file:line:column` of the record, for "the same key as the record at …".
    fn place(&self, pointer: &str) -> String {
        match self.spans.as_ref().and_then(|s| s.nearest(pointer)) {
            Some((l, c)) => format!("{}:{l}:{c}", self.file),
            None => self.file.to_string(),
        }
    }

    /// The record as `weir_rejected` keeps it; field and reason are filled by the caller.
    fn rejected(&self, pointer: &str, record: &Json) -> Rejected {
        let line = match &self.spans {
            Some(s) => s.nearest(pointer).map(|(l, _)| l),
            None => self.line,
        };
        Rejected {
            file: self.file.to_string(),
            line,
            record: Some(pointer.to_string()).filter(|p| !p.is_empty()),
            field: None,
            reason: String::new(),
            raw: serde_json::to_string(record).ok(),
        }
    }
}

pub(super) type OnRecord<'f> =
    dyn FnMut(&mut FileCtx, &Page, &Json, &str, usize, &mut dyn FnMut(Item)) + 'f;

/// Unwraps a page envelope, finds the record list and calls `f` per record with its pointer.
fn for_each_record(value: &Json, ctx: &mut FileCtx, emit: &mut dyn FnMut(Item), f: &mut OnRecord) {
    let mut page = Page {
        file: ctx.file,
        ..Page::default()
    };
    let mut records_at = None;
    let (body, mut pointer) = match value {
        Json::Object(map) if map.contains_key("weir_page") => {
            // A page fetched by a record's own URL says where that record is in its body.
            records_at = map.get("records").and_then(Json::as_str);
            page.fetched_at = map.get("fetched_at");
            page.context = map.get("context");
            page.endpoint = map.get("endpoint");
            page.source = map.get("source");
            let Some(body) = map.get("body") else {
                emit(Item::FileProblem(
                    Diagnostic::new("a weir page envelope has no `body`")
                        .at(ctx.line_location())
                        .hint("the vendor's response goes under `body`"),
                ));
                return;
            };
            (body, "/body".to_string())
        }
        other => {
            page.context = ctx.path_context;
            if ctx.refuses_without_context(emit) {
                return;
            }
            if let Some(line) = ctx.line {
                // A JSONL line without an envelope is one record, whatever `records:` says.
                f(ctx, &page, other, "", line, emit);
                return;
            }
            (other, String::new())
        }
    };
    if let Some(ts) = page.fetched_at
        && let Err(e) = crate::mapper::convert::convert(Some(ts), &Conversion::Timestamp(None))
    {
        emit(Item::FileProblem(
            Diagnostic::new(e.message)
                .at(ctx.line_location())
                .field("fetched_at"),
        ));
        return;
    }
    let Some(list) = record_list(body, records_at, &mut pointer, ctx, emit) else {
        return;
    };
    match list {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = pointer.clone();
                push_pointer(&mut p, &i.to_string());
                f(ctx, &page, item, &p, ctx.line.unwrap_or(i), emit);
            }
        }
        Json::Null => {}
        other => f(ctx, &page, other, &pointer, ctx.line.unwrap_or(0), emit),
    }
}

/// Follows the page's own `records` (dotted keys), else the mapper's `records:` path, in `body`,
/// extending `pointer`; a body without it is a problem of the file.
fn record_list<'v>(
    body: &'v Json,
    records_at: Option<&str>,
    pointer: &mut String,
    ctx: &FileCtx,
    emit: &mut dyn FnMut(Item),
) -> Option<&'v Json> {
    let segments: Vec<String> = match (records_at, &ctx.mapper.records) {
        (Some(at), _) => at.split('.').map(String::from).collect(),
        (None, Some(path)) => path.segments.clone(),
        (None, None) => return Some(body),
    };
    let display = segments.join(".");
    let mut list = body;
    for seg in &segments {
        let Some(v) = list.get(seg) else {
            let found = match list {
                Json::Object(m) => {
                    let keys: Vec<String> = m.keys().map(|k| format!("`{k}`")).collect();
                    format!("its keys are {}", keys.join(", "))
                }
                Json::Array(_) => "it is a list".into(),
                _ => "it is not an object".into(),
            };
            let mut d = Diagnostic::new(format!(
                "the body has no `{display}`, where {} the records ({found})",
                if records_at.is_some() {
                    "the page's `records` puts"
                } else {
                    "the mapper expects"
                }
            ))
            .at(ctx.line_location());
            d.hint = Some(format!(
                "is this file in the right folder? Otherwise fix `records:` in {}",
                ctx.mapper.file
            ));
            emit(Item::FileProblem(d));
            return None;
        };
        push_pointer(pointer, seg);
        list = v;
    }
    Some(list)
}
