//! A Singer source's files: one message per line, as a tap prints them (`SCHEMA`, `RECORD`,
//! `STATE`, `ACTIVATE_VERSION`; https://hub.meltano.com/singer/spec). The RECORDs of the
//! mapper's stream are its records; every other stream and message type is skipped. A SCHEMA of
//! the stream is checked against the mapper's key when it asks (`key_properties: true`).

use serde_json::Value as Json;

use super::parse::{FileCtx, OnRecord, json_error, line_spans};
use super::pipeline::Item;
use crate::error::{Diagnostic, Location};
use crate::mapper::{Page, Singer};

/// Maps the RECORDs of `singer.stream` in `text`, one message per line.
pub(super) fn messages<'a>(
    singer: &Singer,
    text: &'a str,
    ext: &str,
    ctx: &mut FileCtx<'a>,
    on_record: &mut OnRecord,
    emit: &mut dyn FnMut(Item),
) {
    if !matches!(ext, "jsonl" | "ndjson" | "json") {
        emit(Item::FileProblem(
            Diagnostic::new(format!(
                "{} reads a Singer tap's messages, one JSON object per line, not `.{ext}` files",
                ctx.mapper.file
            ))
            .at(Location::file(ctx.file))
            .hint("save the tap's output as `.jsonl` (`weir extract singer` does), or move this file to another source's folder"),
        ));
        return;
    }
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let number = i + 1;
        ctx.line = Some(number);
        ctx.spans = None;
        ctx.line_text = Some(line);
        let message = match serde_json::from_str::<Json>(line) {
            Ok(v) => v,
            Err(e) => {
                emit(Item::FileProblem(json_error(ctx.file, &e, i)));
                continue;
            }
        };
        let kind = message.get("type").and_then(Json::as_str);
        let stream = message.get("stream").and_then(Json::as_str);
        match kind {
            Some("RECORD") => {}
            Some("SCHEMA") => {
                if stream == Some(singer.stream.as_str())
                    && let Some(expected) = &singer.key_properties
                    && let Some(d) = key_mismatch(singer, expected, &message, ctx, line, number)
                {
                    emit(Item::FileProblem(d));
                }
                continue;
            }
            Some(_) => continue,
            None => {
                emit(Item::FileProblem(not_a_message(
                    ctx, &message, line, number,
                )));
                continue;
            }
        }
        let Some(stream) = stream else {
            emit(Item::FileProblem(
                Diagnostic::new("a RECORD message has no `stream` (text)")
                    .at(place(line, number, ctx.file, "/type"))
                    .hint("a Singer RECORD is `{\"type\": \"RECORD\", \"stream\": …, \"record\": {…}}`; fix the tap or the file"),
            ));
            continue;
        };
        if stream != singer.stream {
            continue;
        }
        let Some(record) = message.get("record") else {
            emit(Item::FileProblem(
                Diagnostic::new(format!(
                    "a RECORD message of stream `{stream}` has no `record`"
                ))
                .at(place(line, number, ctx.file, "/stream"))
                .hint("a Singer RECORD is `{\"type\": \"RECORD\", \"stream\": …, \"record\": {…}}`; fix the tap or the file"),
            ));
            continue;
        };
        if ctx.refuses_without_context(emit) {
            return;
        }
        let page = Page {
            file: ctx.file,
            context: ctx.path_context,
            time_extracted: message.get("time_extracted"),
            ..Page::default()
        };
        on_record(ctx, &page, record, "/record", number, emit);
    }
    ctx.line_text = None;
}

/// `file:line:column` of the value at `pointer` in a one-line message, else of the line.
fn place(line: &str, number: usize, file: &str, pointer: &str) -> Location {
    match line_spans(line, number).and_then(|s| s.key(pointer)) {
        Some((l, c)) => Location::at(file, l, c),
        None => Location::at(file, number, 1),
    }
}

/// A line that is JSON but no Singer message.
fn not_a_message(ctx: &FileCtx, message: &Json, line: &str, number: usize) -> Diagnostic {
    let what = match message {
        Json::Object(m) if m.contains_key("type") => "its `type` is not text".to_string(),
        Json::Object(_) => "it has no `type`".to_string(),
        _ => "it is not a JSON object".to_string(),
    };
    Diagnostic::new(format!("this line is not a Singer message: {what}"))
        .at(place(line, number, ctx.file, "/type"))
        .hint(format!(
            "{} declares `singer:`, so its files hold what a tap prints: SCHEMA, RECORD and STATE messages; remove the line, or `singer:` if the files hold plain records",
            ctx.mapper.file
        ))
}

/// The problem with a SCHEMA of the stream whose `key_properties` are not the properties the
/// mapper's key columns read.
fn key_mismatch(
    singer: &Singer,
    expected: &[String],
    schema: &Json,
    ctx: &FileCtx,
    line: &str,
    number: usize,
) -> Option<Diagnostic> {
    let found: Option<Vec<&str>> = schema
        .get("key_properties")
        .and_then(Json::as_array)
        .and_then(|a| a.iter().map(Json::as_str).collect());
    let mut sorted_found = found.clone().unwrap_or_default();
    sorted_found.sort_unstable();
    let mut sorted_expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    sorted_expected.sort_unstable();
    if found.is_some() && sorted_found == sorted_expected {
        return None;
    }
    let quoted = |names: &[&str]| -> String {
        let q: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        format!("[{}]", q.join(", "))
    };
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let said = match &found {
        Some(names) => format!("`key_properties` {}", quoted(names)),
        None => "no `key_properties` (a list of text)".to_string(),
    };
    Some(
        Diagnostic::new(format!(
            "the SCHEMA of stream `{}` has {said}, but the key of {} reads {}",
            singer.stream,
            ctx.mapper.file,
            quoted(&expected)
        ))
        .at(place(line, number, ctx.file, "/key_properties"))
        .hint(format!(
            "map the key columns from the stream's key properties, or remove `key_properties: true` from `singer:` in {} to keep its own key",
            ctx.mapper.file
        )),
    )
}
