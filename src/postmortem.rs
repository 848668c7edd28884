//! Incident postmortems as the files people write: the entry `weir new-incident` appends, the
//! entries a file already holds, and the placeholders in it still to fill. Text in, text and
//! diagnostics out: it writes no file (the command does) and loads nothing (the mapper does).
//!
//! A placeholder is a `null`, `NaN` or `[]` whose line carries the comment `# to fill`. The
//! marker, not the value, makes it one: `time_of_reconcile: null` is a fine answer for an incident
//! that needed no reconciling, so a null on purpose is kept by deleting its comment.

use jiff::civil::Date;
use serde_json::Value as Json;

use crate::error::{Diagnostic, Location};
use crate::mapper::{ColumnPlan, Mapper};
use crate::yaml::{self, push_pointer};

/// The comment that marks a placeholder.
pub const MARKER: &str = "# to fill";

/// The values a field may take, as the incidents mapper declares them (`one_of:` lists); empty
/// when it declares none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    pub root_causes: Vec<String>,
    pub severities: Vec<String>,
}

impl Choices {
    /// The `one_of` lists of the `severity_level` column and of the `root_cause` column of a
    /// child table.
    pub fn of(mapper: &Mapper) -> Choices {
        fn list<'a>(name: &str, mut columns: impl Iterator<Item = &'a ColumnPlan>) -> Vec<String> {
            columns
                .find(|c| c.name == name)
                .and_then(|c| c.one_of.as_deref().cloned())
                .unwrap_or_default()
        }
        Choices {
            severities: list("severity_level", mapper.columns.iter()),
            root_causes: list("root_cause", mapper.child_columns.iter().flatten()),
        }
    }
}

/// `text` as a YAML scalar: plain when it reads back as the same text, else double-quoted (a
/// JSON string is a YAML double-quoted scalar).
pub fn scalar(text: &str) -> String {
    let plain = format!("k: {text}\n");
    match yaml::parse(&plain) {
        Ok((v, _)) if v["k"].as_str() == Some(text) && !text.contains('#') => text.to_string(),
        _ => Json::from(text).to_string(),
    }
}

/// The comment that lists `choices`, or says the field is free text.
fn one_of(choices: &[String], plural: bool) -> String {
    if choices.is_empty() {
        return "free text".to_string();
    }
    let listed = choices.join(", ");
    if plural {
        format!("one or more of: {listed}")
    } else {
        format!("one of: {listed}")
    }
}

/// The entry for an incident called `name` on `date`: every field of a postmortem, the unknown
/// ones as marked placeholders, and what each takes in its comment. Starts with a comment line
/// and ends with a newline.
pub fn entry(name: &str, date: Date, choices: &Choices) -> String {
    let severities = one_of(&choices.severities, false);
    let causes = one_of(&choices.root_causes, true);
    let count = "a whole number, NaN if unknown";
    let rows: Vec<(usize, String, String)> = vec![
        (
            0,
            format!("- incident_name: {}", scalar(name)),
            String::new(),
        ),
        (2, format!("incident_date: {date}"), String::new()),
        (
            2,
            "postmortem_link: null".into(),
            "the postmortem's address".into(),
        ),
        (2, "severity_level: null".into(), severities),
        (2, "affected_entities:".into(), String::new()),
        (
            4,
            "- entity_name: null".into(),
            "a business unit, e.g. Payments; an entry per unit".into(),
        ),
        (
            6,
            "products: []".into(),
            "its products, e.g. [payments]".into(),
        ),
        (2, "root_causes: []".into(), causes),
        (2, "stats:".into(), String::new()),
        (
            4,
            "time_of_first_trigger: null".into(),
            "when it began".into(),
        ),
        (
            4,
            "time_of_customer_detect: null".into(),
            "when a customer told us".into(),
        ),
        (
            4,
            "time_of_internal_detect: null".into(),
            "when we noticed".into(),
        ),
        (
            4,
            "time_of_recovery: null".into(),
            "when service was back".into(),
        ),
        (
            4,
            "time_of_reconcile: null".into(),
            "when the data was repaired".into(),
        ),
        (
            4,
            "time_of_rca: null".into(),
            "when the root cause was found".into(),
        ),
        (4, "number_of_impacted_customers: NaN".into(), count.into()),
        (4, "number_of_failed_requests: NaN".into(), count.into()),
        (
            2,
            "reliability_gaps: null".into(),
            "what let it happen or last, free text".into(),
        ),
    ];
    let mut out = String::from(
        "# Added by `weir new-incident`: replace each value marked `# to fill`; to keep a null or\n\
         # NaN on purpose (a time that never happened), delete its `# to fill` comment. Times are\n\
         # YYYY-MM-DD HH:MM[:SS][+HH:MM], UTC when no offset is written.\n",
    );
    for (indent, code, comment) in rows {
        let line = format!("{:indent$}{code}", "");
        if comment.is_empty() {
            out.push_str(&line);
        } else {
            out.push_str(&format!("{line:<38} {MARKER}: {comment}"));
        }
        out.push('\n');
    }
    out
}

/// Where the entry of `name` on `date` starts in a file's `text` (1-based line and column), if
/// the file has one. A file that does not parse has none here; the load reports it.
pub fn find(text: &str, name: &str, date: Date) -> Option<(usize, usize)> {
    let (doc, spans) = yaml::parse(text).ok()?;
    let items = doc.as_array()?;
    items.iter().enumerate().find_map(|(i, item)| {
        let same_name = item.get("incident_name").and_then(Json::as_str) == Some(name);
        let same_date = item
            .get("incident_date")
            .and_then(Json::as_str)
            .is_some_and(|d| d.trim().parse::<Date>().ok() == Some(date));
        (same_name && same_date).then(|| spans.node(&format!("/{i}")).unwrap_or((1, 1)))
    })
}

/// The placeholders a raw YAML file still has, one warning each at its value, with the field's
/// path and the incident it belongs to.
pub fn placeholders(relative: &str, text: &str) -> Vec<Diagnostic> {
    if !text.contains(MARKER) {
        return Vec::new();
    }
    let Ok((doc, spans)) = yaml::parse(text) else {
        return Vec::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut found = |pointer: &str, field: &str, within: &Json| {
        let Some((line, column)) = spans.node(pointer) else {
            return;
        };
        let marked = lines.get(line - 1).is_some_and(|l| {
            let rest: String = l.chars().skip(column - 1).collect();
            rest.contains(MARKER)
        });
        if !marked {
            return;
        }
        let whose = match within.get("incident_name").and_then(Json::as_str) {
            Some(name) => format!(" of `{name}`"),
            None => String::new(),
        };
        out.push(
            Diagnostic::new(format!("a placeholder{whose} is still to fill"))
                .at(Location::at(relative, line, column))
                .field(field)
                .hint(format!(
                    "write the value its comment asks for, or delete the `{MARKER}` comment to keep it"
                )),
        );
    };
    match &doc {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("/{i}"), "", &mut |p, f| found(p, f, item));
            }
        }
        other => walk(other, "", "", &mut |p, f| found(p, f, other)),
    }
    out
}

/// Calls `at` with the pointer and dotted field path of every placeholder-shaped value below `v`.
fn walk(v: &Json, pointer: &str, field: &str, at: &mut dyn FnMut(&str, &str)) {
    match v {
        Json::Null => at(pointer, field),
        Json::String(s) if s.eq_ignore_ascii_case("nan") || s.eq_ignore_ascii_case(".nan") => {
            at(pointer, field)
        }
        Json::Array(items) if items.is_empty() => at(pointer, field),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = pointer.to_string();
                push_pointer(&mut p, &i.to_string());
                walk(item, &p, &format!("{field}[{i}]"), at);
            }
        }
        Json::Object(map) => {
            for (key, item) in map {
                let mut p = pointer.to_string();
                push_pointer(&mut p, key);
                let f = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                walk(item, &p, &f, at);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choices() -> Choices {
        Choices {
            root_causes: vec!["deployment".into(), "software bug".into()],
            severities: vec!["SEV1".into(), "SEV2".into()],
        }
    }

    #[test]
    fn names_that_yaml_would_misread_are_quoted() {
        assert_eq!(scalar("Payments API 502s"), "Payments API 502s");
        assert_eq!(scalar("null"), "\"null\"");
        assert_eq!(scalar("2026"), "\"2026\"");
        assert_eq!(scalar("a: b"), "\"a: b\"");
        assert_eq!(scalar("x # y"), "\"x # y\"");
        assert_eq!(scalar("- x"), "\"- x\"");
        assert_eq!(scalar("say \"hi\""), "say \"hi\"");
        assert_eq!(scalar("[x]"), "\"[x]\"");
    }

    #[test]
    fn every_placeholder_of_a_new_entry_is_found_and_its_entry_too() {
        let date: Date = "2026-11-30".parse().unwrap();
        let text = entry("Payments API 502s", date, &choices());
        let found = placeholders("f.yaml", &text);
        let fields: Vec<&str> = found.iter().filter_map(|d| d.field.as_deref()).collect();
        assert_eq!(fields.len(), 14, "{fields:?}");
        assert!(
            fields.contains(&"affected_entities[0].products"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"stats.number_of_failed_requests"),
            "{fields:?}"
        );
        assert_eq!(find(&text, "Payments API 502s", date), Some((4, 3)));
        assert_eq!(
            find(&text, "Payments API 502s", "2026-11-29".parse().unwrap()),
            None
        );
    }

    #[test]
    fn a_null_without_the_marker_is_no_placeholder() {
        let text = "- incident_name: x\n  stats:\n    time_of_rca: null\n    n: NaN  # to fill\n";
        let found = placeholders("f.yaml", text);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].field.as_deref(), Some("stats.n"));
        let at = found[0].location.as_ref().unwrap();
        assert_eq!((at.line, at.column), (Some(4), Some(8)));
    }
}
