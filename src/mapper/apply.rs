//! Record -> rows. Paths are walked without copying the record; every problem is collected with
//! the JSON pointer of the field, so the loader can say file, line and column.

use std::borrow::Cow;

use serde_json::Value as Json;

use super::convert::{ConvError, Reading, convert_read};
use super::privacy::Privacy;
use super::{ColumnPlan, ColumnSource, KeyTree, Level, Mapper, PathExpr, Root};
use crate::engine::Value;
use crate::error::did_you_mean;
use crate::yaml::push_pointer;

/// What a page envelope tells about its records.
#[derive(Debug, Default, Clone, Copy)]
pub struct Page<'a> {
    pub fetched_at: Option<&'a Json>,
    pub context: Option<&'a Json>,
    pub endpoint: Option<&'a Json>,
    pub source: Option<&'a Json>,
    /// The raw file, relative to the project root.
    pub file: &'a str,
    /// The records are CSV rows: every value is text (see `convert::Reading`).
    pub text_cells: bool,
    /// A Singer RECORD's `time_extracted`.
    pub time_extracted: Option<&'a Json>,
}

/// The rows of one record: its own, and `children[i]` for `mapper.child_specs[i]`.
#[derive(Debug, Default)]
pub struct Mapped {
    pub row: Vec<Value>,
    pub children: Vec<Vec<Vec<Value>>>,
}

/// A problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// JSON pointer of the field from the record (`/stats/time_of_recovery`).
    pub pointer: String,
    /// The error is about the key itself (an unknown key), not its value.
    pub at_key: bool,
    /// The field as a person writes it: `stats.time_of_recovery`, `root_causes[1]`.
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Turns a pointer into `a.b[2].c` (and `$context/repo` into `$context.repo`).
pub fn field_name(pointer: &str) -> String {
    if pointer.starts_with('$') {
        let (root, rest) = pointer.split_at(pointer.find('/').unwrap_or(pointer.len()));
        return if rest.is_empty() {
            root.to_string()
        } else {
            format!("{root}.{}", field_name(rest))
        };
    }
    let mut out = String::new();
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        }
    }
    if out.is_empty() {
        "(the record)".into()
    } else {
        out
    }
}

struct Scope<'a> {
    value: &'a Json,
    pointer: String,
    /// An `each_field` element: the field's name; `value` is the field's value.
    field: Option<&'a str>,
}

impl Mapper {
    /// Maps one record into `out`, appending any problems to `errors`. `index` is the record's
    /// `$record` value.
    pub fn map<'a>(
        &self,
        page: &Page<'a>,
        record: &'a Json,
        index: usize,
        out: &mut Mapped,
        errors: &mut Vec<RecordError>,
    ) {
        out.row.clear();
        out.children.resize_with(self.child_specs.len(), Vec::new);
        out.children.iter_mut().for_each(Vec::clear);
        if !record.is_object() {
            errors.push(RecordError {
                pointer: String::new(),
                at_key: false,
                field: "(the record)".into(),
                message: format!("expected a record (an object), found {}", kind(record)),
                hint: Some(match &self.records {
                    Some(p) => format!(
                        "`records: {}` in {} must lead to a list of objects",
                        p.display(),
                        self.file
                    ),
                    None => format!(
                        "if the records sit under a key of the body, name it with `records:` in {}",
                        self.file
                    ),
                }),
            });
            return;
        }
        let mut scopes = vec![Scope {
            value: record,
            pointer: String::new(),
            field: None,
        }];
        if self.strict {
            check_keys(record, &self.known, "", errors);
        }
        let before = errors.len();
        let mut row = Vec::with_capacity(self.columns.len());
        self.row(&self.columns, page, &scopes, index, &[], &mut row, errors);
        out.row = row;
        self.levels(&self.levels, page, &mut scopes, index, out, errors);
        dedupe(errors, before);
    }

    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        columns: &[ColumnPlan],
        page: &Page,
        scopes: &[Scope],
        index: usize,
        top: &[Value],
        row: &mut Vec<Value>,
        errors: &mut Vec<RecordError>,
    ) {
        for c in columns {
            let value = match &c.source {
                ColumnSource::Link(p) => top[*p].clone(),
                ColumnSource::Constant(v) => self.convert(c, Some(v), "", false, errors),
                ColumnSource::Path(path) => {
                    // The pointer is spelled out only for a value that is wrong: the mapping is
                    // done again with it, for the message.
                    let before = errors.len();
                    let plain = plain_resolve(path, scopes)
                        .map(|v| self.convert(c, v, "", page.text_cells, errors));
                    match plain {
                        Some(value) if errors.len() == before => value,
                        _ => {
                            errors.truncate(before);
                            match resolve(path, page, scopes, index) {
                                Ok((v, pointer)) => {
                                    self.convert(c, v.as_deref(), &pointer, page.text_cells, errors)
                                }
                                Err(e) => {
                                    errors.push(e);
                                    Value::Null
                                }
                            }
                        }
                    }
                }
            };
            row.push(value);
        }
    }

    fn convert(
        &self,
        c: &ColumnPlan,
        v: Option<&Json>,
        pointer: &str,
        text_cells: bool,
        errors: &mut Vec<RecordError>,
    ) -> Value {
        let (line, col) = c.declared_at;
        let err = |message: String, hint: Option<String>| RecordError {
            pointer: pointer.to_string(),
            at_key: false,
            field: field_name(pointer),
            message,
            hint,
        };
        let reading = Reading {
            format: c.format.as_deref(),
            text_cells,
        };
        // A personal value is never quoted in a message (stderr, weir_rejected.reason).
        let unshown = || {
            c.privacy.filter(|p| *p != Privacy::Allow).map(|p| {
                format!(
                    "(the value is not shown: column `{}` is `privacy: {}`)",
                    c.name,
                    p.name()
                )
            })
        };
        let value = match convert_read(v, &c.conversion, reading) {
            Ok(value) => value,
            Err(_) if c.or_null => Value::Null,
            Err(ConvError { message }) => {
                let message = match unshown() {
                    Some(why) => format!("cannot be read as `{}` {why}", c.conversion.name()),
                    None => message,
                };
                let hint = format!(
                    "fix the value, or change how column `{}` reads it at {}:{line}:{col}",
                    c.name, self.file
                );
                errors.push(err(message, Some(hint)));
                return Value::Null;
            }
        };
        if value == Value::Null && c.required {
            let what = if v.is_none() {
                "is missing"
            } else {
                "is empty"
            };
            errors.push(err(
                format!("{what}, and column `{}` requires a value", c.name),
                Some("add the value to the record".into()),
            ));
        }
        let number = match &value {
            Value::Integer(i) => Some(*i as f64),
            Value::Real(f) => Some(*f),
            _ => None,
        };
        if c.or_null && number.is_some_and(|x| c.bounds.broken(x).is_some()) {
            return Value::Null;
        }
        if let Some((x, why)) = number.and_then(|x| Some((x, c.bounds.broken(x)?))) {
            errors.push(err(
                format!("`{x}` {why}"),
                Some(format!(
                    "column `{}` takes values {} ({}:{line}:{col})",
                    c.name,
                    c.bounds.describe(),
                    self.file
                )),
            ));
        }
        if let (Some(allowed), Value::Text(t)) = (&c.one_of, &value)
            && !allowed.iter().any(|a| a == t)
        {
            let unshown = unshown();
            let message = match &unshown {
                Some(why) => format!("is not in the list of allowed values {why}"),
                None => format!("`{t}` is not in the list of allowed values"),
            };
            let hint = unshown
                .is_none()
                .then(|| did_you_mean(t, allowed.iter().map(String::as_str)))
                .flatten()
                .unwrap_or_else(|| format!("use one of: {}", allowed.join(", ")));
            errors.push(err(message, Some(hint)));
        }
        match c.privacy {
            Some(p) => p.apply(value, self.secret.as_deref()),
            None => value,
        }
    }

    fn levels<'a>(
        &self,
        levels: &[Level],
        page: &Page<'a>,
        scopes: &mut Vec<Scope<'a>>,
        index: usize,
        out: &mut Mapped,
        errors: &mut Vec<RecordError>,
    ) {
        for level in levels {
            let (list, pointer) = match resolve(&level.each, page, scopes, index) {
                Ok((Some(Cow::Borrowed(v)), p)) => (v, p),
                Ok(_) => continue,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let elements = match self.elements(level, list, &pointer) {
                Ok(e) => e,
                Err(e) => {
                    errors.push(*e);
                    continue;
                }
            };
            for element in elements {
                scopes.push(element);
                if let Some(t) = level.table {
                    let mut row = Vec::with_capacity(self.child_columns[t].len());
                    self.row(
                        &self.child_columns[t],
                        page,
                        scopes,
                        index,
                        &out.row,
                        &mut row,
                        errors,
                    );
                    out.children[t].push(row);
                }
                self.levels(&level.children, page, scopes, index, out, errors);
                scopes.pop();
            }
        }
    }
}

impl Mapper {
    /// The elements of `level` in `list` (at `pointer`): a list's items, or an object's fields
    /// for `each_field`.
    fn elements<'a>(
        &self,
        level: &Level,
        list: &'a Json,
        pointer: &str,
    ) -> Result<Vec<Scope<'a>>, Box<RecordError>> {
        let at = |key: &str| {
            let mut p = pointer.to_string();
            push_pointer(&mut p, key);
            p
        };
        let (wanted, how) = if level.fields.is_some() {
            ("an object", "each_field")
        } else {
            ("a list", "each")
        };
        match (list, &level.fields) {
            (Json::Null, _) => Ok(Vec::new()),
            (Json::Array(items), None) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, item)| Scope {
                    value: item,
                    pointer: at(&i.to_string()),
                    field: None,
                })
                .collect()),
            (Json::Object(map), Some(except)) => Ok(map
                .iter()
                // An empty cell is no answer: a field without a value gives no row.
                .filter(|(k, v)| !v.is_null() && !except.contains(k))
                .map(|(k, v)| Scope {
                    value: v,
                    pointer: at(k),
                    field: Some(k.as_str()),
                })
                .collect()),
            (other, _) => Err(Box::new(RecordError {
                field: field_name(pointer),
                pointer: pointer.to_string(),
                at_key: false,
                message: format!("expected {wanted}, found {}", kind(other)),
                hint: Some(format!(
                    "fix the value, or the `{how}: {}` in {}",
                    level.each.display(),
                    self.file
                )),
            })),
        }
    }
}

/// Two columns reading one bad field (a time as text and as epoch) give one problem.
fn dedupe(errors: &mut Vec<RecordError>, from: usize) {
    let mut i = from;
    while i < errors.len() {
        if errors[from..i]
            .iter()
            .any(|e| e.pointer == errors[i].pointer && e.message == errors[i].message)
        {
            errors.remove(i);
        } else {
            i += 1;
        }
    }
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "text",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// Walks `path`. A missing key or a null on the way gives `None`; a scalar where the path needs
/// an object or list is an error.
fn resolve<'a>(
    path: &PathExpr,
    page: &Page<'a>,
    scopes: &[Scope<'a>],
    index: usize,
) -> Result<(Option<Cow<'a, Json>>, String), RecordError> {
    let scope = match path.root {
        Root::Current => scopes.last(),
        Root::Parent => scopes.len().checked_sub(2).map(|i| &scopes[i]),
        _ => None,
    };
    let mut segments = path.segments.as_slice();
    if let Some(Scope {
        value,
        pointer,
        field: Some(name),
    }) = scope
    {
        // An `each_field` element is `{name, value}`, made up from the field it stands for.
        match segments.split_first() {
            None => {
                let element = serde_json::json!({"name": name, "value": value});
                return Ok((Some(Cow::Owned(element)), pointer.clone()));
            }
            Some((first, rest)) if first == "name" => {
                if !rest.is_empty() {
                    let text = Json::String(name.to_string());
                    return Err(wrong_kind(&text, pointer, path, "an object"));
                }
                return Ok((
                    Some(Cow::Owned(Json::String(name.to_string()))),
                    pointer.clone(),
                ));
            }
            Some((first, rest)) if first == "value" => segments = rest,
            Some(_) => return Ok((None, pointer.clone())),
        }
    }
    let (start, mut pointer): (Option<&'a Json>, String) = match path.root {
        Root::Current | Root::Parent => match scope {
            Some(s) => (Some(s.value), s.pointer.clone()),
            None => (None, String::new()),
        },
        Root::Top => (Some(scopes[0].value), String::new()),
        Root::Context => (page.context, "$context".into()),
        Root::FetchedAt => return Ok((page.fetched_at.map(Cow::Borrowed), "$fetched_at".into())),
        Root::Endpoint => return Ok((page.endpoint.map(Cow::Borrowed), "$endpoint".into())),
        Root::Source => return Ok((page.source.map(Cow::Borrowed), "$source".into())),
        Root::File => {
            return Ok((
                Some(Cow::Owned(Json::String(page.file.to_string()))),
                "$file".into(),
            ));
        }
        Root::Record => return Ok((Some(Cow::Owned(Json::from(index))), "$record".into())),
        Root::TimeExtracted => {
            return Ok((
                page.time_extracted.map(Cow::Borrowed),
                "$time_extracted".into(),
            ));
        }
    };
    let Some(mut value) = start else {
        return Ok((None, pointer));
    };
    for seg in segments {
        let next = match value {
            Json::Null => return Ok((None, pointer)),
            Json::Object(map) => map.get(seg),
            Json::Array(items) => match seg.parse::<usize>() {
                Ok(i) => items.get(i),
                Err(_) => return Err(wrong_kind(value, &pointer, path, "an object")),
            },
            _ => return Err(wrong_kind(value, &pointer, path, "an object")),
        };
        push_pointer(&mut pointer, seg);
        match next {
            Some(v) => value = v,
            None => return Ok((None, pointer)),
        }
    }
    Ok((Some(Cow::Borrowed(value)), pointer))
}

/// What `resolve` finds, without the pointer, where that is plain: a path from the current
/// record (or the top one) through objects and list items. None where `resolve` must answer: a
/// path from elsewhere, an `each_field` element, or a value of the wrong kind (an error).
fn plain_resolve<'a>(path: &PathExpr, scopes: &[Scope<'a>]) -> Option<Option<&'a Json>> {
    let scope = match path.root {
        Root::Current => scopes.last()?,
        Root::Top => scopes.first()?,
        _ => return None,
    };
    if scope.field.is_some() && matches!(path.root, Root::Current) {
        return None;
    }
    let mut value = scope.value;
    for seg in &path.segments {
        let next = match value {
            Json::Null => return Some(None),
            Json::Object(map) => map.get(seg),
            Json::Array(items) => items.get(seg.parse::<usize>().ok()?),
            _ => return None,
        };
        match next {
            Some(v) => value = v,
            None => return Some(None),
        }
    }
    Some(Some(value))
}

fn wrong_kind(found: &Json, pointer: &str, path: &PathExpr, expected: &str) -> RecordError {
    RecordError {
        pointer: pointer.to_string(),
        at_key: false,
        field: field_name(pointer),
        message: format!(
            "expected {expected} to read `{}` from, found {}",
            path.display(),
            kind(found)
        ),
        hint: Some("the data changed shape: fix the data or the mapper's path".into()),
    }
}

/// Strict records: every key must be one the mapper reads.
fn check_keys(value: &Json, known: &KeyTree, pointer: &str, errors: &mut Vec<RecordError>) {
    if known.whole {
        return;
    }
    match value {
        Json::Object(map) => {
            for (k, v) in map {
                let mut p = pointer.to_string();
                push_pointer(&mut p, k);
                match known.keys.get(k) {
                    Some(sub) => check_keys(v, sub, &p, errors),
                    None => errors.push(RecordError {
                        field: field_name(&p),
                        pointer: p,
                        at_key: true,
                        message: format!("unknown key `{k}`"),
                        hint: did_you_mean(k, known.keys.keys().map(String::as_str)).or_else(
                            || {
                                let names: Vec<String> =
                                    known.keys.keys().map(|k| format!("`{k}`")).collect();
                                Some(format!("the keys here are {}", names.join(", ")))
                            },
                        ),
                    }),
                }
            }
        }
        Json::Array(items) => {
            if let Some(el) = &known.elements {
                for (i, item) in items.iter().enumerate() {
                    let mut p = pointer.to_string();
                    push_pointer(&mut p, &i.to_string());
                    check_keys(item, el, &p, errors);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::field_name;

    #[test]
    fn a_pointer_reads_as_a_field() {
        assert_eq!(field_name("/stats/time_of_rca"), "stats.time_of_rca");
        assert_eq!(field_name("/root_causes/1"), "root_causes[1]");
        assert_eq!(field_name(""), "(the record)");
        // The special roots keep their name.
        assert_eq!(field_name("$time_extracted"), "$time_extracted");
        assert_eq!(field_name("$context/repo"), "$context.repo");
    }
}
