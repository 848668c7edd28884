//! From a report's rows to what a chart draws: the x categories in row order and a series of
//! values per y column (or per value of the `series` column). NULL, NaN and infinite values
//! are gaps, never zeros.

use super::Chart;
use crate::engine::Value;
use crate::error::{Diagnostic, Location};

/// One series: its name (a y column, or a value of the `series` column) and a value or a gap
/// per category.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

/// What a chart draws.
#[derive(Debug, Clone, PartialEq)]
pub struct Data {
    pub categories: Vec<String>,
    pub series: Vec<Series>,
}

/// The label of a NULL category or series value.
pub const NULL_LABEL: &str = "(null)";

impl Data {
    /// Reads the chart's columns out of `rows`. `Chart::check` has found every column it names
    /// in `columns`.
    pub fn read(
        chart: &Chart,
        file: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<Data, Box<Diagnostic>> {
        let index = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .expect("Chart::check found every column the chart names")
        };
        let x = index(&chart.x.name);
        let ys: Vec<usize> = chart.y.iter().map(|n| index(&n.name)).collect();
        let split = chart.series.as_ref().map(|s| index(&s.name));
        let mut data = Data {
            categories: Vec::new(),
            series: Vec::new(),
        };
        if split.is_none() {
            for n in &chart.y {
                data.series.push(Series {
                    name: n.name.clone(),
                    values: Vec::new(),
                });
            }
        }
        // Which row set each (series, category) cell, to name both rows of a repeat.
        let mut set_by: Vec<Vec<Option<usize>>> = vec![Vec::new(); data.series.len()];
        for (r, row) in rows.iter().enumerate() {
            let category = label(&row[x]);
            let c = match data.categories.iter().position(|k| *k == category) {
                Some(c) => c,
                None => {
                    data.categories.push(category);
                    data.categories.len() - 1
                }
            };
            for (j, &y) in ys.iter().enumerate() {
                let s = match split {
                    None => j,
                    Some(column) => {
                        let name = label(&row[column]);
                        match data.series.iter().position(|s| s.name == name) {
                            Some(s) => s,
                            None => {
                                data.series.push(Series {
                                    name,
                                    values: Vec::new(),
                                });
                                set_by.push(Vec::new());
                                data.series.len() - 1
                            }
                        }
                    }
                };
                let value = number(&row[y]).ok_or_else(|| {
                    Box::new(Diagnostic::new(format!(
                        "row {} of the report has `{}` in `{}`, which the chart draws: not a number",
                        r + 1,
                        text(&row[y]),
                        chart.y[j].name
                    ))
                    .at(Location::at(file, chart.line, chart.y[j].column))
                    .hint("draw a column of numbers, or CAST it in the query"))
                })?;
                let series = &mut data.series[s];
                series.values.resize(data.categories.len(), None);
                set_by[s].resize(data.categories.len(), None);
                if let Some(first) = set_by[s][c] {
                    return Err(Box::new(repeat(
                        chart,
                        file,
                        first,
                        r,
                        &data.categories[c],
                        &series.name,
                    )));
                }
                set_by[s][c] = Some(r);
                series.values[c] = value;
            }
        }
        for s in &mut data.series {
            s.values.resize(data.categories.len(), None);
        }
        Ok(data)
    }

    /// Whether any value is drawn.
    pub fn is_empty(&self) -> bool {
        self.series
            .iter()
            .all(|s| s.values.iter().all(Option::is_none))
    }
}

fn repeat(
    chart: &Chart,
    file: &str,
    first: usize,
    again: usize,
    x: &str,
    series: &str,
) -> Diagnostic {
    let of = match &chart.series {
        Some(s) => format!(" and `{}` `{series}`", s.name),
        None => String::new(),
    };
    let hint = match &chart.series {
        Some(_) => "group the query by the x and series columns".to_string(),
        None => format!(
            "split the rows into series with `series=COLUMN`, or group the query by `{}`",
            chart.x.name
        ),
    };
    Diagnostic::new(format!(
        "rows {} and {} of the report both have `{}` `{x}`{of}: a chart draws one value there",
        first + 1,
        again + 1,
        chart.x.name
    ))
    .at(Location::at(file, chart.line, chart.x.column))
    .hint(hint)
}

/// A category's or series' label.
fn label(v: &Value) -> String {
    match v {
        Value::Null => NULL_LABEL.to_string(),
        other => text(other),
    }
}

/// A value as the CSV shows it.
pub fn text(v: &Value) -> String {
    let mut out = String::new();
    crate::report::cell(v, &mut out);
    out
}

/// A drawn value: `Some(None)` for a gap, `None` for text that is no number.
fn number(v: &Value) -> Option<Option<f64>> {
    let f = match v {
        Value::Null => return Some(None),
        Value::Integer(i) => *i as f64,
        Value::Real(f) => *f,
        Value::Text(t) => t.trim().parse::<f64>().ok()?,
    };
    Some(f.is_finite().then_some(f))
}
