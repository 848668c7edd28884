//! YAML with positions: parses a YAML document into a `serde_json::Value` (so raw YAML and raw JSON
//! records go through one mapper) and remembers the line and column of every node and key.
//!
//! Aliases are refused rather than expanded: hand-written files do not need them, and expanding
//! them is how a small file becomes a billion nodes. Duplicate keys are refused too: in a
//! hand-edited file the second one is nearly always a mistake that would silently win.

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Line and column (both 1-based) of the nodes of one document, by JSON pointer (`/0/stats/x`).
#[derive(Debug, Default)]
pub struct Spans {
    nodes: HashMap<String, (usize, usize)>,
    keys: HashMap<String, (usize, usize)>,
}

impl Spans {
    /// Where the value at `pointer` starts.
    pub fn node(&self, pointer: &str) -> Option<(usize, usize)> {
        self.nodes.get(pointer).copied()
    }

    /// Where the key of the entry at `pointer` starts (for "unknown key" errors).
    pub fn key(&self, pointer: &str) -> Option<(usize, usize)> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.node(pointer))
    }

    /// Places the value at `pointer` (a spreadsheet cell, which no YAML parse placed).
    pub fn insert_node(&mut self, pointer: &str, at: (usize, usize)) {
        self.nodes.insert(pointer.to_string(), at);
    }

    /// Places the key of the entry at `pointer` (a spreadsheet's header cell).
    pub fn insert_key(&mut self, pointer: &str, at: (usize, usize)) {
        self.keys.insert(pointer.to_string(), at);
    }

    /// Moves every position `by` lines down (a JSONL line parsed alone).
    pub fn shift_lines(&mut self, by: usize) {
        for (line, _) in self.nodes.values_mut().chain(self.keys.values_mut()) {
            *line += by;
        }
    }

    /// The nearest position at or above `pointer`: a missing key is reported at its parent's key.
    pub fn nearest(&self, pointer: &str) -> Option<(usize, usize)> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self
                .nodes
                .get(p)
                .filter(|_| p == pointer)
                .or_else(|| self.keys.get(p))
                .or_else(|| self.nodes.get(p))
            {
                return Some(*pos);
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return None,
            }
        }
    }
}

/// A YAML syntax problem, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Appends one JSON-pointer segment (RFC 6901 escaping).
pub fn push_pointer(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Nesting deeper than this is refused, as serde_json does for JSON: deeper values would only
/// come from a broken or hostile file, and would cost stack to drop.
const MAX_DEPTH: usize = 128;

/// Parses one YAML document. An empty document is `null`.
pub fn parse(text: &str) -> Result<(Value, Spans), YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        let m = e.marker();
        return Err(YamlError {
            line: m.line(),
            column: m.col() + 1,
            message: e.info().to_string(),
        });
    }
    if let Some(err) = builder.error {
        return Err(err);
    }
    Ok((builder.root.unwrap_or(Value::Null), builder.spans))
}

enum Frame {
    Seq {
        pointer: String,
        items: Vec<Value>,
    },
    Map {
        pointer: String,
        map: Map<String, Value>,
        key: Option<String>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    documents: usize,
    spans: Spans,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError {
                line: mark.line(),
                column: mark.col() + 1,
                message,
            });
        }
    }

    /// The pointer of the node that starts now, or `None` when it is a mapping key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Seq { pointer, items }) => {
                let mut p = pointer.clone();
                push_pointer(&mut p, &items.len().to_string());
                Some(p)
            }
            Some(Frame::Map {
                pointer,
                key: Some(k),
                ..
            }) => {
                let mut p = pointer.clone();
                push_pointer(&mut p, k);
                Some(p)
            }
            Some(Frame::Map { key: None, .. }) => None,
        }
    }

    fn finish(&mut self, value: Value, mark: Marker) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => {
                let k = key.take().expect("a value always follows its key");
                map.insert(k, value);
            }
        }
        let _ = mark;
    }

    /// A scalar: a value where one is expected, else the next key of the open mapping.
    fn scalar(&mut self, text: String, quoted: bool, mark: Marker) {
        let pos = (mark.line(), mark.col() + 1);
        if let Some(pointer) = self.next_pointer() {
            self.spans.nodes.insert(pointer, pos);
            let value = if quoted {
                Value::String(text)
            } else {
                resolve_plain(text)
            };
            self.finish(value, mark);
            return;
        }
        let Some(Frame::Map { pointer, map, key }) = self.stack.last_mut() else {
            unreachable!("next_pointer is None only inside a mapping")
        };
        if map.contains_key(&text) {
            let message = format!("duplicate key `{text}`; remove one of the two");
            self.fail(mark, message);
            return;
        }
        if map.is_empty() {
            // A block mapping's start mark is not where a reader looks: place the mapping (a
            // record, say) at its first key.
            self.spans.nodes.insert(pointer.clone(), pos);
        }
        let mut p = pointer.clone();
        push_pointer(&mut p, &text);
        self.spans.keys.insert(p, pos);
        *key = Some(text);
    }

    /// The start of a list (`seq`) or a mapping.
    fn open(&mut self, mark: Marker, seq: bool) {
        if self.stack.len() >= MAX_DEPTH {
            let message = format!(
                "lists and mappings nest deeper than {MAX_DEPTH} levels here; no raw record is that deep"
            );
            self.fail(mark, message);
            return;
        }
        let Some(pointer) = self.next_pointer() else {
            self.fail(
                mark,
                "a key must be plain text, not a list or mapping".into(),
            );
            return;
        };
        self.spans
            .nodes
            .insert(pointer.clone(), (mark.line(), mark.col() + 1));
        self.stack.push(if seq {
            Frame::Seq {
                pointer,
                items: Vec::new(),
            }
        } else {
            Frame::Map {
                pointer,
                map: Map::new(),
                key: None,
            }
        });
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        mark,
                        "a file holds one YAML document; remove the second `---`".into(),
                    );
                }
            }
            Event::Alias(_) => self.fail(
                mark,
                "YAML aliases (`*name`) are not supported; write the value out in full".into(),
            ),
            Event::Scalar(text, style, _, tag) => {
                let quoted =
                    style != TScalarStyle::Plain || tag.as_ref().is_some_and(|t| t.suffix == "str");
                self.scalar(text, quoted, mark);
            }
            Event::SequenceStart(..) => self.open(mark, true),
            Event::MappingStart(..) => self.open(mark, false),
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match self.stack.pop() {
                    Some(Frame::Seq { items, .. }) => Value::Array(items),
                    Some(Frame::Map { map, .. }) => Value::Object(map),
                    None => return,
                };
                self.finish(value, mark);
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

/// YAML 1.2 core schema for plain scalars. `.nan` and `.inf` stay text (`NaN` in JSON has no
/// number), which the numeric conversions read as NULL.
fn resolve_plain(text: String) -> Value {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::Number(i.into());
    }
    if text.bytes().any(|b| b.is_ascii_digit())
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_line_is_placed_by_its_columns_and_shifted_to_its_line() {
        // A Singer message: JSON is YAML's flow style, so its fields have columns.
        let line = r#"{"type": "RECORD", "stream": "s", "record": {"id": "x7", "n":2}}"#;
        let (v, mut spans) = parse(line).unwrap();
        assert_eq!(v["record"]["id"], "x7");
        spans.shift_lines(41);
        assert_eq!(spans.node("/record/id"), Some((42, 52)));
        assert_eq!(spans.key("/record/n"), Some((42, 58)));
    }

    #[test]
    fn positions_of_nodes_and_keys() {
        let (v, spans) =
            parse("- name: a\n  stats:\n    n: NaN\n    t: 2026-05-01 10:00\n").unwrap();
        assert_eq!(v[0]["stats"]["n"], "NaN");
        assert_eq!(v[0]["stats"]["t"], "2026-05-01 10:00");
        assert_eq!(spans.node("/0/stats/t"), Some((4, 8)));
        assert_eq!(spans.key("/0/stats/t"), Some((4, 5)));
        assert_eq!(spans.nearest("/0/stats/missing"), Some((2, 3)));
        assert_eq!(spans.nearest("/0/stats/t"), Some((4, 8)));
        assert_eq!(
            spans.nearest("/0/missing"),
            Some((1, 3)),
            "a record sits at its first key"
        );
    }

    #[test]
    fn core_schema_scalars() {
        let (v, _) = parse("[1, -2.5, true, null, '7', x, .nan]").unwrap();
        assert_eq!(
            v,
            serde_json::json!([1, -2.5, true, null, "7", "x", ".nan"])
        );
    }

    #[test]
    fn refuses_aliases_and_duplicate_keys() {
        let e = parse("a: &x [1]\nb: *x\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4));
        assert!(e.message.contains("aliases"));
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.message.contains("duplicate key `a`"), "{}", e.message);
        assert_eq!(e.line, 2);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.line >= 1, "{e:?}");
    }
}
