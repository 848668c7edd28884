//! The parser of `checks/*.yaml` and the list of `checks/*.sql`: tables, columns and kinds are
//! checked against the schema, each problem placed at its line and column with a near name, and
//! every problem is reported at once.

mod fields;

use std::path::Path;

use serde_json::{Map, Value as Json};

use super::{Check, KINDS, Kind, Severity, Threshold};
use crate::engine::Table;
use crate::error::{Diagnostic, Location, did_you_mean};
use crate::yaml::{self, Spans, push_pointer};

/// Keys every check entry may have beside its kind.
const COMMON: [&str; 5] = ["name", "severity", "where", "error_if", "warn_if"];

/// Reads every check of the project: `checks/*.yaml` in name order, then `checks/*.sql`.
pub fn load(root: &Path, tables: &[Table]) -> Result<Vec<Check>, Vec<Diagnostic>> {
    let dir = root.join("checks");
    let mut files: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    let mut checks = Vec::new();
    let mut problems = Vec::new();
    let yaml_files = files
        .iter()
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"));
    for name in yaml_files {
        let file = format!("checks/{name}");
        match std::fs::read_to_string(dir.join(name)) {
            Ok(text) => match yaml::parse(&text) {
                Ok((doc, spans)) => {
                    let mut p = Parser {
                        file: &file,
                        spans: &spans,
                        tables,
                        schemas: &root.join("schemas"),
                        problems: Vec::new(),
                    };
                    checks.extend(p.document(&doc));
                    problems.extend(p.problems);
                }
                Err(e) => problems
                    .push(Diagnostic::new(e.message).at(Location::at(&file, e.line, e.column))),
            },
            Err(e) => problems.push(
                Diagnostic::new(format!("cannot read the file: {e}")).at(Location::file(&file)),
            ),
        }
    }
    for name in files.iter().filter(|n| n.ends_with(".sql")) {
        let file = format!("checks/{name}");
        let stem = name.trim_end_matches(".sql");
        match std::fs::read_to_string(dir.join(name)) {
            Ok(sql) => match singular(&file, stem, sql) {
                Ok(check) => checks.push(check),
                Err(p) => problems.extend(p),
            },
            Err(e) => problems.push(
                Diagnostic::new(format!("cannot read the file: {e}")).at(Location::file(&file)),
            ),
        }
    }
    for (i, c) in checks.iter().enumerate() {
        if let Some(first) = checks[..i].iter().find(|o| o.name == c.name) {
            problems.push(
                Diagnostic::new(format!("two checks are named `{}`", c.name))
                    .at(c.at.clone())
                    .hint(format!(
                        "the other is at {}; give one of them another `name:`",
                        first.at
                    )),
            );
        }
    }
    if problems.is_empty() {
        Ok(checks)
    } else {
        problems.sort();
        Err(problems)
    }
}

/// A check's name becomes a file name in output/check_failures/: letters, digits, `_`, `-`, `.`.
fn bad_name(name: &str) -> bool {
    name.is_empty()
        || name.starts_with('.')
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// `checks/<name>.sql`: the query, and what its opening comment declares (`-- severity: warn`,
/// `-- error_if: >5`, `-- warn_if: >0`).
fn singular(file: &str, name: &str, sql: String) -> Result<Check, Vec<Diagnostic>> {
    let mut check = Check {
        name: name.to_string(),
        table: String::new(),
        kind: Kind::Singular { sql: String::new() },
        severity: Severity::Error,
        filter: None,
        error_if: Threshold::ANY,
        warn_if: Threshold::ANY,
        at: Location::at(file, 1, 1),
    };
    let mut problems = Vec::new();
    if bad_name(name) {
        problems.push(
            Diagnostic::new(format!("`{name}` cannot name a check"))
                .at(Location::file(file))
                .hint("name the file with letters, digits, `_`, `-` and `.`"),
        );
    }
    for (i, line) in sql.lines().enumerate() {
        let Some(comment) = line.trim().strip_prefix("--") else {
            if line.trim().is_empty() {
                continue;
            }
            break;
        };
        let Some((key, value)) = comment.trim().split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let column = line.find(value).map_or(1, |c| c + 1);
        let at = Location::at(file, i + 1, column);
        match key {
            "severity" => match severity(value) {
                Some(s) => check.severity = s,
                None => problems.push(bad_severity(value).at(at)),
            },
            "error_if" | "warn_if" => match Threshold::parse(value) {
                Some(t) if key == "error_if" => check.error_if = t,
                Some(t) => check.warn_if = t,
                None => problems.push(bad_threshold(key, value).at(at)),
            },
            _ => {}
        }
    }
    check.kind = Kind::Singular { sql };
    if problems.is_empty() {
        Ok(check)
    } else {
        Err(problems)
    }
}

fn severity(text: &str) -> Option<Severity> {
    match text {
        "warn" => Some(Severity::Warn),
        "error" => Some(Severity::Error),
        _ => None,
    }
}

fn bad_severity(text: &str) -> Diagnostic {
    let mut d = Diagnostic::new(format!("unknown severity `{text}`")).field("severity");
    d.hint = did_you_mean(text, ["warn", "error"]).or_else(|| Some("use `warn` or `error`".into()));
    d
}

fn bad_threshold(key: &str, text: &str) -> Diagnostic {
    Diagnostic::new(format!(
        "`{text}` is not a condition on the number of failing rows"
    ))
    .field(key)
    .hint("write a comparison and a whole number, quoted in YAML: `\">5\"`, `\">=1\"`, `\"!=0\"`")
}

struct Parser<'a> {
    file: &'a str,
    spans: &'a Spans,
    tables: &'a [Table],
    schemas: &'a Path,
    problems: Vec<Diagnostic>,
}

fn child(pointer: &str, key: &str) -> String {
    let mut p = pointer.to_string();
    push_pointer(&mut p, key);
    p
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Parser<'_> {
    fn at(&self, pointer: &str) -> Location {
        let (l, c) = self.spans.nearest(pointer).unwrap_or((1, 1));
        Location::at(self.file, l, c)
    }

    fn key_at(&self, pointer: &str) -> Location {
        let (l, c) = self
            .spans
            .key(pointer)
            .or_else(|| self.spans.nearest(pointer))
            .unwrap_or((1, 1));
        Location::at(self.file, l, c)
    }

    fn problem(&mut self, message: impl Into<String>, at: Location, hint: Option<String>) {
        let mut d = Diagnostic::new(message).at(at);
        d.hint = hint;
        self.problems.push(d);
    }

    fn document(&mut self, doc: &Json) -> Vec<Check> {
        let mut checks = Vec::new();
        let Some(map) = doc.as_object() else {
            if !doc.is_null() {
                self.problem(
                    "a checks file is a mapping of table names to lists of checks",
                    self.at(""),
                    Some("write `incidents:` and below it `- not_null: [incident_name]`".into()),
                );
            }
            return checks;
        };
        for (name, entries) in map {
            let pointer = child("", name);
            let Some(table) = self.tables.iter().find(|t| &t.name == name) else {
                let hint = did_you_mean(name, self.tables.iter().map(|t| t.name.as_str()))
                    .or_else(|| Some("a checks file names tables that schemas/ declares".into()));
                self.problem(
                    format!("unknown table `{name}`"),
                    self.key_at(&pointer),
                    hint,
                );
                continue;
            };
            let Some(items) = entries.as_array() else {
                self.problem(
                    format!("the checks of `{name}` must be a list"),
                    self.at(&pointer),
                    Some("write each check on a line of its own starting with `- `".into()),
                );
                continue;
            };
            for (i, item) in items.iter().enumerate() {
                let pointer = child(&pointer, &i.to_string());
                if let Some(check) = self.entry(table, item, &pointer, i + 1) {
                    checks.push(check);
                }
            }
        }
        checks
    }

    fn entry(&mut self, table: &Table, v: &Json, pointer: &str, n: usize) -> Option<Check> {
        let Some(map) = v.as_object() else {
            self.problem(
                "a check is a mapping with one kind",
                self.at(pointer),
                Some(format!("the kinds are {}", list(&KINDS))),
            );
            return None;
        };
        let mut kinds = Vec::new();
        let before = self.problems.len();
        for key in map.keys() {
            if KINDS.contains(&key.as_str()) {
                kinds.push(key.as_str());
            } else if !COMMON.contains(&key.as_str()) {
                let all = KINDS.iter().chain(COMMON.iter()).copied();
                let hint = did_you_mean(key, all).or_else(|| {
                    Some(format!(
                        "the kinds are {}; a check may also have {}",
                        list(&KINDS),
                        list(&COMMON)
                    ))
                });
                self.problem(
                    format!("unknown key `{key}` in a check"),
                    self.key_at(&child(pointer, key)),
                    hint,
                );
            }
        }
        let kind_name = match kinds.as_slice() {
            [one] => *one,
            // A misspelt kind was reported as an unknown key, with its near name.
            [] if self.problems.len() > before => return None,
            [] => {
                self.problem(
                    "the check names no kind",
                    self.at(pointer),
                    Some(format!("add one of {}", list(&KINDS))),
                );
                return None;
            }
            [_, second, ..] => {
                self.problem(
                    format!("one check has one kind; `{second}` is a second"),
                    self.key_at(&child(pointer, second)),
                    Some("make it a check of its own, on a line starting with `- `".into()),
                );
                return None;
            }
        };
        let kind_pointer = child(pointer, kind_name);
        let before = self.problems.len();
        let kind = self.kind(table, kind_name, &map[kind_name], &kind_pointer);
        let common = self.common(map, pointer, kind_name);
        let kind = kind?;
        let (name, severity, filter, error_if, warn_if) = common?;
        if self.problems.len() > before {
            return None;
        }
        let name = name.unwrap_or_else(|| derived_name(&table.name, &kind, n));
        let (line, column) = self.spans.key(&kind_pointer).unwrap_or((1, 1));
        Some(Check {
            name,
            table: table.name.clone(),
            kind,
            severity,
            filter,
            error_if,
            warn_if,
            at: Location::at(self.file, line, column),
        })
    }

    /// `name`, `severity`, `where`, `error_if`, `warn_if`, refused where the kind has no use
    /// for them.
    #[allow(clippy::type_complexity)]
    fn common(
        &mut self,
        map: &Map<String, Json>,
        pointer: &str,
        kind: &str,
    ) -> Option<(
        Option<String>,
        Severity,
        Option<String>,
        Threshold,
        Threshold,
    )> {
        let mut ok = true;
        let aggregate = matches!(kind, "row_count" | "freshness" | "volume");
        let mut text = |p: &mut Self, key: &str| -> Option<String> {
            let v = map.get(key)?;
            match v.as_str() {
                Some(s) if !s.trim().is_empty() => Some(s.to_string()),
                _ => {
                    p.problem(
                        format!("`{key}` must be text"),
                        p.at(&child(pointer, key)),
                        None,
                    );
                    ok = false;
                    None
                }
            }
        };
        let name = text(self, "name");
        let severity_text = text(self, "severity");
        let filter = text(self, "where");
        let error_text = text(self, "error_if");
        let warn_text = text(self, "warn_if");
        if let Some(n) = &name
            && bad_name(n)
        {
            self.problem(
                format!("`{n}` cannot name a check"),
                self.at(&child(pointer, "name")),
                Some("use letters, digits, `_`, `-` and `.`: it names a file in output/check_failures/".into()),
            );
            ok = false;
        }
        let mut severity = Severity::Error;
        if let Some(s) = &severity_text {
            match self::severity(s) {
                Some(_) if kind == "freshness" => {
                    self.problem(
                        "`severity` does nothing on a freshness check",
                        self.key_at(&child(pointer, "severity")),
                        Some(
                            "`warn_after` and `error_after` say when it warns and when it fails"
                                .into(),
                        ),
                    );
                    ok = false;
                }
                Some(s) => severity = s,
                None => {
                    self.problems
                        .push(bad_severity(s).at(self.at(&child(pointer, "severity"))));
                    ok = false;
                }
            }
        }
        let mut threshold = |p: &mut Self, key: &str, text: &Option<String>| -> Threshold {
            let Some(t) = text else {
                return Threshold::ANY;
            };
            if aggregate {
                p.problem(
                    format!("`{key}` does nothing on a {kind} check"),
                    p.key_at(&child(pointer, key)),
                    Some(format!(
                        "a {kind} check finds one thing or nothing; thresholds count failing rows"
                    )),
                );
                ok = false;
                return Threshold::ANY;
            }
            Threshold::parse(t).unwrap_or_else(|| {
                p.problems
                    .push(bad_threshold(key, t).at(p.at(&child(pointer, key))));
                ok = false;
                Threshold::ANY
            })
        };
        let error_if = threshold(self, "error_if", &error_text);
        let warn_if = threshold(self, "warn_if", &warn_text);
        if severity == Severity::Warn && error_text.is_some() {
            self.problem(
                "`error_if` does nothing on a check of severity `warn`",
                self.key_at(&child(pointer, "error_if")),
                Some("leave out `severity: warn`, or use `warn_if`".into()),
            );
            ok = false;
        }
        ok.then_some((name, severity, filter, error_if, warn_if))
    }

    fn kind(&mut self, table: &Table, kind: &str, v: &Json, pointer: &str) -> Option<Kind> {
        match kind {
            "not_null" | "unique" => {
                let columns = self.columns(table, v, pointer)?;
                Some(if kind == "unique" {
                    Kind::Unique { columns }
                } else {
                    Kind::NotNull { columns }
                })
            }
            "expression" => match v.as_str() {
                Some(sql) if !sql.trim().is_empty() => Some(Kind::Expression {
                    sql: sql.to_string(),
                }),
                _ => {
                    self.problem(
                        "`expression` must be a SQL condition, as text",
                        self.at(pointer),
                        Some("write it in quotes: `expression: \"a <= b\"`".into()),
                    );
                    None
                }
            },
            "accepted_values" => {
                let map = self.entries(v, pointer, kind, &["column", "values"])?;
                let column = self.column(table, map.get("column"), &child(pointer, "column"))?;
                let values = self.values(map.get("values"), &child(pointer, "values"))?;
                Some(Kind::AcceptedValues { column, values })
            }
            "relationships" => {
                let map = self.entries(v, pointer, kind, &["column", "to"])?;
                let column = self.column(table, map.get("column"), &child(pointer, "column"));
                let to = self.reference(map.get("to"), &child(pointer, "to"));
                let (to_table, to_column) = to?;
                Some(Kind::Relationships {
                    column: column?,
                    to_table,
                    to_column,
                })
            }
            "row_count" => {
                let map = self.entries(v, pointer, kind, &["min", "max"])?;
                let min = self.count(map.get("min"), &child(pointer, "min"))?;
                let max = self.count(map.get("max"), &child(pointer, "max"))?;
                if min.is_none() && max.is_none() {
                    self.problem(
                        "`row_count` needs `min`, `max` or both",
                        self.at(pointer),
                        Some("write `row_count: {min: 1}`".into()),
                    );
                    return None;
                }
                if let (Some(a), Some(b)) = (min, max)
                    && a > b
                {
                    self.problem(
                        format!("`min` {a} is more than `max` {b}"),
                        self.at(&child(pointer, "min")),
                        None,
                    );
                    return None;
                }
                Some(Kind::RowCount { min, max })
            }
            "freshness" => {
                let keys = ["column", "warn_after", "error_after"];
                let map = self.entries(v, pointer, kind, &keys)?;
                let column = self.time_column(table, map.get("column"), &child(pointer, "column"));
                let warn = self.duration(map.get("warn_after"), &child(pointer, "warn_after"));
                let error = self.duration(map.get("error_after"), &child(pointer, "error_after"));
                let (column, warn_after, error_after) = (column?, warn?, error?);
                if warn_after.is_none() && error_after.is_none() {
                    self.problem(
                        "`freshness` needs `warn_after`, `error_after` or both",
                        self.at(pointer),
                        Some("write `freshness: {column: fetched_at, warn_after: 2d}`".into()),
                    );
                    return None;
                }
                Some(Kind::Freshness {
                    column,
                    warn_after,
                    error_after,
                })
            }
            "volume" => {
                let keys = ["column", "period", "window", "max_change_pct", "min_rows"];
                let map = self.entries(v, pointer, kind, &keys)?;
                let column = self.time_column(table, map.get("column"), &child(pointer, "column"));
                let period = self.period(map.get("period"), &child(pointer, "period"));
                let window = self.count(map.get("window"), &child(pointer, "window"));
                let pct =
                    self.percent(map.get("max_change_pct"), &child(pointer, "max_change_pct"));
                let min_rows = self.count(map.get("min_rows"), &child(pointer, "min_rows"));
                let window = match window? {
                    None => 8,
                    Some(w @ 1..=1000) => w as usize,
                    Some(w) => {
                        self.problem(
                            format!("`window` {w} is not from 1 to 1000 periods"),
                            self.at(&child(pointer, "window")),
                            None,
                        );
                        return None;
                    }
                };
                Some(Kind::Volume {
                    column: column?,
                    period: period?,
                    window,
                    max_change_pct: pct?.unwrap_or(50.0),
                    min_rows: min_rows?.unwrap_or(0),
                })
            }
            _ => unreachable!("the caller passes one of KINDS"),
        }
    }
}

/// A value as the file wrote it: text without JSON's quotes.
fn shown(v: &Json) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// `<table>_<kind>_<columns>`, or `<table>_<kind>_<n>` for an expression (its place in the
/// table's list), as dbt names its tests.
fn derived_name(table: &str, kind: &Kind, n: usize) -> String {
    let tail = match kind {
        Kind::NotNull { columns } | Kind::Unique { columns } => columns.join("_"),
        Kind::AcceptedValues { column, .. } | Kind::Relationships { column, .. } => column.clone(),
        Kind::Freshness { column, .. } | Kind::Volume { column, .. } => column.name.clone(),
        Kind::Expression { .. } => n.to_string(),
        Kind::RowCount { .. } | Kind::Singular { .. } => String::new(),
    };
    let mut name = format!("{table}_{}", kind.name());
    if !tail.is_empty() {
        name.push('_');
        name.push_str(&tail);
    }
    name
}
