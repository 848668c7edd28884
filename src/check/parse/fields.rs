//! The readers of a check's fields: columns checked against their table, reference lists,
//! counts, percentages, durations and periods, each problem placed at its node.

use serde_json::{Map, Value as Json};

use super::{Parser, child, list, shown};
use crate::check::{Period, TimeColumn, duration};
use crate::engine::Table;
use crate::error::did_you_mean;
use crate::yaml;

impl Parser<'_> {
    pub(super) fn entries<'v>(
        &mut self,
        v: &'v Json,
        pointer: &str,
        kind: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Json>> {
        let Some(map) = v.as_object() else {
            self.problem(
                format!("`{kind}` takes a mapping of {}", list(allowed)),
                self.at(pointer),
                Some(format!("write `{kind}: {{{}: …}}`", allowed[0])),
            );
            return None;
        };
        let mut ok = true;
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let hint = did_you_mean(key, allowed.iter().copied())
                    .or_else(|| Some(format!("the keys of `{kind}` are {}", list(allowed))));
                self.problem(
                    format!("unknown key `{key}` in `{kind}`"),
                    self.key_at(&child(pointer, key)),
                    hint,
                );
                ok = false;
            }
        }
        ok.then_some(map)
    }

    /// A column of `table`, named by text at `pointer`.
    pub(super) fn column(
        &mut self,
        table: &Table,
        v: Option<&Json>,
        pointer: &str,
    ) -> Option<String> {
        let Some(name) = v.and_then(Json::as_str) else {
            let message = if v.is_some() {
                "`column` must be a column's name"
            } else {
                "`column` is missing"
            };
            self.problem(message, self.at(pointer), None);
            return None;
        };
        self.known_column(table, name, pointer)
    }

    pub(super) fn known_column(
        &mut self,
        table: &Table,
        name: &str,
        pointer: &str,
    ) -> Option<String> {
        if table.column(name).is_some() {
            return Some(name.to_string());
        }
        let hint = did_you_mean(name, table.columns.iter().map(|c| c.name.as_str()))
            .or_else(|| Some(format!("the columns of `{}` are in schemas/", table.name)));
        self.problem(
            format!("unknown column `{name}` in table `{}`", table.name),
            self.at(pointer),
            hint,
        );
        None
    }

    /// One column or a list of them.
    pub(super) fn columns(
        &mut self,
        table: &Table,
        v: &Json,
        pointer: &str,
    ) -> Option<Vec<String>> {
        let names: Vec<(String, String)> = match v {
            Json::String(s) => vec![(s.clone(), pointer.to_string())],
            Json::Array(items) if !items.is_empty() && items.iter().all(Json::is_string) => items
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let s = s.as_str().unwrap_or_default().to_string();
                    (s, child(pointer, &i.to_string()))
                })
                .collect(),
            _ => {
                self.problem(
                    "name a column, or a list of columns",
                    self.at(pointer),
                    Some("write `[incident_name, incident_date]`".into()),
                );
                return None;
            }
        };
        let mut out = Vec::new();
        for (name, p) in &names {
            out.push(self.known_column(table, name, p));
        }
        out.into_iter().collect()
    }

    pub(super) fn time_column(
        &mut self,
        table: &Table,
        v: Option<&Json>,
        pointer: &str,
    ) -> Option<TimeColumn> {
        let name = self.column(table, v, pointer)?;
        let declared = table
            .column(&name)
            .map(|c| c.declared.clone())
            .unwrap_or_default();
        let integer = declared.contains("INT");
        let text = ["TEXT", "CHAR", "VARCHAR", "STRING"]
            .iter()
            .any(|t| declared.contains(t))
            || declared.is_empty();
        if !integer && !text {
            self.problem(
                format!("column `{name}` is `{declared}`, not a time weir can read"),
                self.at(pointer),
                Some("name a TEXT column of dates or timestamps with an offset, or an integer column of epoch seconds".into()),
            );
            return None;
        }
        Some(TimeColumn {
            name,
            epoch_seconds: integer,
        })
    }

    /// `to: table.column`.
    pub(super) fn reference(
        &mut self,
        v: Option<&Json>,
        pointer: &str,
    ) -> Option<(String, String)> {
        let Some((t, c)) = v.and_then(Json::as_str).and_then(|s| s.split_once('.')) else {
            self.problem(
                "`to` names the table and column the values must be in",
                self.at(pointer),
                Some("write `to: pagerduty_services.id`".into()),
            );
            return None;
        };
        let Some(table) = self.tables.iter().find(|x| x.name == t) else {
            let hint = did_you_mean(t, self.tables.iter().map(|x| x.name.as_str()));
            self.problem(format!("unknown table `{t}`"), self.at(pointer), hint);
            return None;
        };
        let column = self.known_column(table, c, pointer)?;
        Some((t.to_string(), column))
    }

    /// `values:` a list of text, or the name of a reference list under schemas/.
    pub(super) fn values(&mut self, v: Option<&Json>, pointer: &str) -> Option<Vec<String>> {
        match v {
            Some(Json::Array(items)) if !items.is_empty() => {
                let scalar = |i: &Json| match i {
                    Json::String(s) => Some(s.clone()),
                    Json::Number(n) => Some(n.to_string()),
                    Json::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
                    _ => None,
                };
                let values: Option<Vec<String>> = items.iter().map(scalar).collect();
                if values.is_none() {
                    self.problem(
                        "`values` holds text and numbers only",
                        self.at(pointer),
                        None,
                    );
                }
                values
            }
            Some(Json::String(name)) => self.reference_list(name, pointer),
            _ => {
                self.problem(
                    "`values` is a list of the accepted values, or a reference list in schemas/",
                    self.at(pointer),
                    Some(
                        "write `values: [SEV1, SEV2]` or `values: reference/root_causes.yaml`"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    pub(super) fn reference_list(&mut self, name: &str, pointer: &str) -> Option<Vec<String>> {
        let relative = format!("schemas/{name}");
        let loaded = if name.contains("..") || name.starts_with('/') {
            Err(format!("`{name}` is not a file in schemas/"))
        } else {
            std::fs::read_to_string(self.schemas.join(name))
                .map_err(|e| format!("cannot read `{relative}`: {e}"))
                .and_then(|text| {
                    yaml::parse(&text)
                        .map_err(|e| format!("`{relative}`:{}:{}: {}", e.line, e.column, e.message))
                })
                .and_then(|(v, _)| match v {
                    Json::Array(items) if items.is_empty() => Err(format!(
                        "`{relative}` lists no values, so every row would fail"
                    )),
                    Json::Array(items) if items.iter().all(Json::is_string) => Ok(items
                        .iter()
                        .map(|i| i.as_str().unwrap_or_default().to_string())
                        .collect()),
                    _ => Err(format!("`{relative}` must be a YAML list of text")),
                })
        };
        loaded
            .map_err(|message| {
                self.problem(
                    message,
                    self.at(pointer),
                    Some("name a list under schemas/, such as `reference/root_causes.yaml`".into()),
                )
            })
            .ok()
    }

    /// A whole number from 0 (`Some(None)` when absent).
    pub(super) fn count(&mut self, v: Option<&Json>, pointer: &str) -> Option<Option<u64>> {
        let Some(v) = v else {
            return Some(None);
        };
        match v.as_u64() {
            Some(n) if n <= 1 << 53 => Some(Some(n)),
            _ => {
                self.problem(
                    format!("`{}` is not a whole number from 0", shown(v)),
                    self.at(pointer),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn percent(&mut self, v: Option<&Json>, pointer: &str) -> Option<Option<f64>> {
        let Some(v) = v else {
            return Some(None);
        };
        match v.as_f64() {
            Some(p) if p.is_finite() && p > 0.0 && p <= 1e6 => Some(Some(p)),
            _ => {
                self.problem(
                    format!("`{}` is not a percentage above 0", shown(v)),
                    self.at(pointer),
                    Some(
                        "write `max_change_pct: 50` to flag a period 50% above or below the mean"
                            .into(),
                    ),
                );
                None
            }
        }
    }

    pub(super) fn duration(&mut self, v: Option<&Json>, pointer: &str) -> Option<Option<i64>> {
        let Some(v) = v else {
            return Some(None);
        };
        match v.as_str().and_then(duration) {
            Some(s) => Some(Some(s)),
            None => {
                self.problem(
                    format!("`{}` is not a length of time", shown(v)),
                    self.at(pointer),
                    Some(
                        "write a whole number and a unit: `90s`, `30m`, `12h`, `2d` or `1w`".into(),
                    ),
                );
                None
            }
        }
    }

    pub(super) fn period(&mut self, v: Option<&Json>, pointer: &str) -> Option<Period> {
        let Some(v) = v else {
            return Some(Period::Day);
        };
        let text = v.as_str().unwrap_or_default();
        Period::parse(text).or_else(|| {
            let hint = did_you_mean(text, Period::NAMES)
                .or_else(|| Some(format!("use {}", list(&Period::NAMES))));
            self.problem(
                format!(
                    "unknown period `{}`",
                    v.as_str().map_or_else(|| v.to_string(), str::to_string)
                ),
                self.at(pointer),
                hint,
            );
            None
        })
    }
}
