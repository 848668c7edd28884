//! A report's header comment: its description, and the charts it declares with
//! `-- chart: line x=month y=incidents title="Incidents per month" unit="incidents"` lines
//! (the syntax is docs/REPORTS.md's). Owns the syntax, its errors and the step from rows to
//! series; `svg.rs` draws. It never runs a query: `Chart::check` is handed the columns a report
//! returned.

mod data;
mod scale;
pub mod svg;

pub use data::{Data, Series};

use crate::error::{Diagnostic, Location, did_you_mean};

/// How a chart draws its series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A line per series through its values, a point at each.
    Line,
    /// Bars side by side per x value, one per series.
    Bar,
    /// One bar per x value, the series stacked in it.
    StackedBar,
}

impl Kind {
    pub const NAMES: [&'static str; 3] = ["line", "bar", "stacked-bar"];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Line => "line",
            Kind::Bar => "bar",
            Kind::StackedBar => "stacked-bar",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        match name {
            "line" => Some(Kind::Line),
            "bar" => Some(Kind::Bar),
            "stacked-bar" => Some(Kind::StackedBar),
            _ => None,
        }
    }
}

/// A column a declaration names, and the column of the line it was written at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub column: usize,
}

/// One `-- chart:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub kind: Kind,
    /// The line of the query file it is on.
    pub line: usize,
    /// The column whose values are the categories along the x axis, in row order.
    pub x: Named,
    /// The columns drawn, a series each (one, with `series`).
    pub y: Vec<Named>,
    /// The column whose values split the rows into series (long format).
    pub series: Option<Named>,
    pub title: Option<String>,
    /// The unit of the y values, on the y axis and in every value's label.
    pub unit: Option<String>,
    /// The x axis's label [default: the x column's name].
    pub x_label: Option<String>,
}

/// What a query file's header comment says: the comment lines before the SQL.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Header {
    /// The description's paragraphs (a bare `--` line or a blank line separates two).
    pub paragraphs: Vec<String>,
    pub charts: Vec<Chart>,
}

const KEYS: [&str; 6] = ["x", "y", "series", "title", "unit", "x-label"];

const EXAMPLE: &str = "-- chart: line x=month y=incidents,customer_detected title=\"Incidents per month\" unit=\"incidents\"";

/// Reads the header comment of the query `sql`, which is the file `file` (relative to the
/// project root). Every malformed declaration is a problem.
pub fn header(file: &str, sql: &str) -> Result<Header, Vec<Diagnostic>> {
    let mut header = Header::default();
    let mut paragraph: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    let mut in_header = true;
    for (i, line) in sql.lines().enumerate() {
        let trimmed = line.trim_start();
        let comment = trimmed.strip_prefix("--");
        if in_header && comment.is_none() && !trimmed.is_empty() {
            in_header = false;
        }
        let Some(comment) = comment else {
            if in_header && !paragraph.is_empty() {
                header.paragraphs.push(paragraph.join(" "));
                paragraph.clear();
            }
            continue;
        };
        let text = comment.trim_start_matches('-').trim_start();
        let indent = line.len() - text.len();
        if let Some(declaration) = text.strip_prefix("chart:") {
            if !in_header {
                problems.push(
                    Diagnostic::new("a chart declared after the SQL has begun is not read")
                        .at(Location::at(file, i + 1, column(line, indent)))
                        .hint("move the line into the header comment, above the first line of SQL"),
                );
                continue;
            }
            let start = indent + "chart:".len();
            match parse(
                declaration,
                Position {
                    file,
                    line,
                    number: i + 1,
                    start,
                },
            ) {
                Ok(chart) => header.charts.push(chart),
                Err(d) => problems.push(*d),
            }
        } else if in_header {
            if text.trim().is_empty() {
                if !paragraph.is_empty() {
                    header.paragraphs.push(paragraph.join(" "));
                    paragraph.clear();
                }
            } else {
                paragraph.push(text.trim_end());
            }
        }
    }
    if !paragraph.is_empty() {
        header.paragraphs.push(paragraph.join(" "));
    }
    if problems.is_empty() {
        Ok(header)
    } else {
        Err(problems)
    }
}

/// The 1-based column of the character at byte `at` of `line`.
fn column(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

/// Where a declaration is: its file, its line and its number, and the byte it starts at.
#[derive(Clone, Copy)]
struct Position<'a> {
    file: &'a str,
    line: &'a str,
    number: usize,
    start: usize,
}

impl Position<'_> {
    /// A problem at byte `at` of the declaration.
    fn problem(&self, at: usize, message: impl Into<String>) -> Box<Diagnostic> {
        Box::new(Diagnostic::new(message).at(Location::at(
            self.file,
            self.number,
            column(self.line, self.start + at),
        )))
    }
}

/// A hint on a problem `Position::problem` made.
trait Help {
    fn help(self, hint: impl Into<String>) -> Self;
}

impl Help for Box<Diagnostic> {
    fn help(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// A word of a declaration: `kind`, `key=value` or `key="quoted value"`.
struct Word {
    at: usize,
    key: String,
    /// With the byte it starts at; none for a word without `=`.
    value: Option<(String, usize)>,
}

/// Splits a declaration into words at blanks outside quotes.
fn words(text: &str, pos: Position) -> Result<Vec<Word>, Box<Diagnostic>> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut key = String::new();
        let mut value = None;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            if c == '"' {
                return Err(pos
                    .problem(i, "a quote must open a value, right after `=`")
                    .help(format!("write `key=\"…\"`, as in `{EXAMPLE}`")));
            }
            if c != '=' {
                key.push(c);
                continue;
            }
            let start = i + 1;
            let mut text = String::new();
            if chars.peek().is_some_and(|&(_, c)| c == '"') {
                chars.next();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, e @ ('"' | '\\'))) => text.push(e),
                            Some((j, _)) => {
                                return Err(pos
                                    .problem(j - 1, "unknown escape in a quoted value")
                                    .help("only `\\\"` and `\\\\` are escapes"));
                            }
                            None => break,
                        },
                        c => text.push(c),
                    }
                }
                if !closed {
                    return Err(pos
                        .problem(start, "the quoted value has no closing `\"`")
                        .help("close the quote before the end of the line"));
                }
                if let Some(&(j, c)) = chars.peek()
                    && !c.is_whitespace()
                {
                    return Err(pos
                        .problem(j, "a blank must follow a quoted value")
                        .help("put a space between two `key=value` pairs"));
                }
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    if c == '"' {
                        return Err(pos
                            .problem(start, "a quote inside a value")
                            .help("quote the whole value: `title=\"…\"`"));
                    }
                    text.push(c);
                    chars.next();
                }
            }
            value = Some((text, start));
            break;
        }
        out.push(Word { at, key, value });
    }
    Ok(out)
}

fn parse(text: &str, pos: Position) -> Result<Chart, Box<Diagnostic>> {
    let words = words(text, pos)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(pos
            .problem(0, "the chart declaration is empty")
            .help(format!(
                "name a kind ({}) and the columns: `{EXAMPLE}`",
                kinds()
            )));
    };
    if first.value.is_some() {
        return Err(pos
            .problem(first.at, "a chart declaration starts with its kind")
            .help(format!("write one of {} first: `{EXAMPLE}`", kinds())));
    }
    let kind = Kind::parse(&first.key).ok_or_else(|| {
        let hint = did_you_mean(&first.key, Kind::NAMES)
            .unwrap_or_else(|| format!("the kinds are {}", kinds()));
        pos.problem(first.at, format!("unknown chart kind `{}`", first.key))
            .help(hint)
    })?;
    let mut chart = Chart {
        kind,
        line: pos.number,
        x: Named {
            name: String::new(),
            column: 0,
        },
        y: Vec::new(),
        series: None,
        title: None,
        unit: None,
        x_label: None,
    };
    let mut seen: Vec<&str> = Vec::new();
    for word in rest {
        let Some((value, value_at)) = &word.value else {
            return Err(pos
                .problem(
                    word.at,
                    format!("expected `key=value`, found `{}`", word.key),
                )
                .help(format!("the keys are {}", list(&KEYS))));
        };
        if !KEYS.contains(&word.key.as_str()) {
            let hint = did_you_mean(&word.key, KEYS)
                .unwrap_or_else(|| format!("the keys are {}", list(&KEYS)));
            return Err(pos
                .problem(word.at, format!("unknown key `{}`", word.key))
                .help(hint));
        }
        if seen.contains(&word.key.as_str()) {
            return Err(pos
                .problem(word.at, format!("`{}` is given twice", word.key))
                .help("keep one of them"));
        }
        seen.push(&word.key);
        let named = |name: &str, at: usize| -> Result<Named, Box<Diagnostic>> {
            if name.is_empty() {
                return Err(pos
                    .problem(at, format!("`{}=` names no column", word.key))
                    .help("name a column the query returns"));
            }
            Ok(Named {
                name: name.to_string(),
                column: column(pos.line, pos.start + at),
            })
        };
        match word.key.as_str() {
            "x" => chart.x = named(value, *value_at)?,
            "series" => chart.series = Some(named(value, *value_at)?),
            "y" => {
                let mut at = *value_at;
                for name in value.split(',') {
                    chart.y.push(named(name, at)?);
                    at += name.len() + 1;
                }
            }
            "title" => chart.title = Some(value.clone()),
            "unit" => chart.unit = Some(value.clone()),
            "x-label" => chart.x_label = Some(value.clone()),
            _ => unreachable!("KEYS lists every key matched here"),
        }
    }
    let end = text.trim_end().len();
    for (key, missing) in [("x", chart.x.name.is_empty()), ("y", chart.y.is_empty())] {
        if missing {
            return Err(pos
                .problem(end, format!("the chart has no `{key}=`"))
                .help(format!("name the x column and the y columns: `{EXAMPLE}`")));
        }
    }
    if let Some(series) = &chart.series
        && chart.y.len() > 1
    {
        return Err(Box::new(
            Diagnostic::new(format!(
                "with `series={}` a chart draws one y column, not {}",
                series.name,
                chart.y.len()
            ))
            .at(Location::at(pos.file, pos.number, chart.y[1].column))
            .hint(format!(
                "keep one y column: each value of `{}` becomes a series of it",
                series.name
            )),
        ));
    }
    Ok(chart)
}

fn kinds() -> String {
    list(&Kind::NAMES)
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Chart {
    /// Every column the chart names that the report does not return, as problems in `file`.
    pub fn check(&self, file: &str, report: &str, columns: &[String]) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        let named = std::iter::once(&self.x)
            .chain(&self.y)
            .chain(self.series.as_ref());
        for n in named {
            if columns.contains(&n.name) {
                continue;
            }
            let hint =
                did_you_mean(&n.name, columns.iter().map(String::as_str)).unwrap_or_else(|| {
                    format!(
                        "its columns are {}",
                        list(&columns.iter().map(String::as_str).collect::<Vec<_>>())
                    )
                });
            problems.push(
                Diagnostic::new(format!("report `{report}` returns no column `{}`", n.name))
                    .at(Location::at(file, self.line, n.column))
                    .hint(hint),
            );
        }
        problems
    }

    /// The chart's title: its `title=`, else its y columns by its x column.
    pub fn title(&self) -> String {
        self.title.clone().unwrap_or_else(|| {
            let y: Vec<&str> = self.y.iter().map(|n| n.name.as_str()).collect();
            match &self.series {
                Some(s) => format!("{} by {} and {}", y.join(", "), self.x.name, s.name),
                None => format!("{} by {}", y.join(", "), self.x.name),
            }
        })
    }
}

#[cfg(test)]
mod tests;
