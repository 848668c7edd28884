//! Runs checks on a read-only engine and judges them: failing rows against `error_if` and
//! `warn_if`, a row count against its bounds, the newest time against the clock, the latest
//! complete period against the mean of the ones before it.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::sql::{self, Plan};
use super::{Check, Kind, Period, Severity, Status, words};
use crate::engine::{Collected as Collect, Engine, QueryError, Table, Value};
use crate::error::{Diagnostic, Error};

/// Failing rows kept for output/check_failures/ and the line a check prints.
pub const MAX_FAILURES: usize = 100;

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub table: String,
    pub kind: &'static str,
    pub severity: Severity,
    pub status: Status,
    pub failing_rows: u64,
    /// What was found, in words, for the line the check prints (empty when it passed plainly).
    pub detail: String,
    /// The failing rows (at most `MAX_FAILURES`), sorted, and their column names.
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Compiles every check's SQL first, so a mistake in any is reported with the others before a
/// single one runs; then runs them in order.
pub fn run(
    engine: &dyn Engine,
    checks: &[Check],
    tables: &[Table],
    now: Timestamp,
) -> crate::error::Result<Vec<Outcome>> {
    let plans: Vec<Plan> = checks
        .iter()
        .map(|c| sql::plan(c, tables, engine.kind()))
        .collect();
    let problems = compile(engine, checks, tables);
    if !problems.is_empty() {
        return Err(Error::Problems(problems));
    }
    let mut outcomes = Vec::new();
    for (check, plan) in checks.iter().zip(&plans) {
        let mut rows = Collect::default();
        match engine.query(plan.sql(), &mut rows) {
            Ok(()) => outcomes.push(judge(check, plan, rows, now)),
            // The SQL compiled, so what stops it is the data (a time `weir_epoch` cannot read):
            // that is this check's finding, and the other checks still run.
            Err(QueryError::Sql(e)) => outcomes.push(unjudged(check, &e.message)),
            Err(QueryError::Unsupported(m)) => {
                return Err(Error::problem(Diagnostic::new(m).at(check.at.clone())));
            }
            Err(QueryError::Sink(e)) => return Err(Error::Internal(e)),
        }
    }
    Ok(outcomes)
}

/// What the engine says of each check's SQL (for `validate` too): a problem per check that
/// does not compile, at the check.
pub fn compile(engine: &dyn Engine, checks: &[Check], tables: &[Table]) -> Vec<Diagnostic> {
    checks
        .iter()
        .filter_map(|c| {
            let plan = sql::plan(c, tables, engine.kind());
            engine
                .check_query(plan.sql())
                .err()
                .map(|e| sql_problem(c, &e.message))
        })
        .collect()
}

fn sql_problem(check: &Check, message: &str) -> Diagnostic {
    let hint = match &check.kind {
        Kind::Singular { .. } => "fix the query; each row it returns is a failure",
        _ if check.filter.is_some() => "fix the SQL of the check or of its `where:`",
        _ => "fix the SQL of the check",
    };
    Diagnostic::new(format!("check `{}` does not run: {message}", check.name))
        .at(check.at.clone())
        .hint(hint)
}

/// The order of failing rows: NULL, then numbers, then text; the same on every engine.
fn compare(a: &[Value], b: &[Value]) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Integer(_) | Value::Real(_) => 1,
            Value::Text(_) => 2,
        }
    }
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Value::Integer(i), Value::Integer(j)) => i.cmp(j),
            (Value::Integer(i), Value::Real(f)) => (*i as f64).total_cmp(f),
            (Value::Real(f), Value::Integer(i)) => f.total_cmp(&(*i as f64)),
            (Value::Real(f), Value::Real(g)) => f.total_cmp(g),
            (Value::Text(s), Value::Text(t)) => s.cmp(t),
            _ => rank(x).cmp(&rank(y)),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Integer(i) => Some(*i),
        Value::Real(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

/// A check whose query the data stops: it fails at its severity, saying why.
fn unjudged(check: &Check, message: &str) -> Outcome {
    Outcome {
        name: check.name.clone(),
        table: check.table.clone(),
        kind: check.kind.name(),
        severity: check.severity,
        status: match check.severity {
            Severity::Error => Status::Error,
            Severity::Warn => Status::Warn,
        },
        failing_rows: 0,
        detail: format!("cannot be judged: {message}"),
        columns: Vec::new(),
        rows: Vec::new(),
    }
}

fn judge(check: &Check, plan: &Plan, mut found: Collect, now: Timestamp) -> Outcome {
    let mut outcome = Outcome {
        name: check.name.clone(),
        table: check.table.clone(),
        kind: check.kind.name(),
        severity: check.severity,
        status: Status::Pass,
        failing_rows: 0,
        detail: String::new(),
        columns: Vec::new(),
        rows: Vec::new(),
    };
    let first = |found: &Collect| integer(found.rows.first().and_then(|r| r.first()));
    match (plan, &check.kind) {
        (Plan::Rows { key, .. }, _) => {
            let n = found.rows.len() as u64;
            outcome.failing_rows = n;
            outcome.status = if check.severity == Severity::Error && check.error_if.holds(n) {
                Status::Error
            } else if check.warn_if.holds(n) {
                Status::Warn
            } else {
                Status::Pass
            };
            found.rows.sort_by(|a, b| compare(a, b));
            found.rows.truncate(MAX_FAILURES);
            if n > 0 {
                outcome.detail = sample(&found, *key, n);
            }
            outcome.columns = found.columns;
            outcome.rows = found.rows;
        }
        (Plan::Count { .. }, Kind::RowCount { min, max }) => {
            let n = first(&found).unwrap_or(0).max(0) as u64;
            let low = min.filter(|m| n < *m).map(|m| format!("at least {m}"));
            let high = max.filter(|m| n > *m).map(|m| format!("at most {m}"));
            if let Some(expected) = low.or(high) {
                outcome.status = check.severity.into();
                outcome.failing_rows = 1;
                outcome.detail = format!("{n} rows, expected {expected}");
                outcome.columns = ["rows", "min", "max"].map(String::from).to_vec();
                let opt = |m: Option<u64>| m.map_or(Value::Null, |m| Value::Integer(m as i64));
                outcome.rows = vec![vec![Value::Integer(n as i64), opt(*min), opt(*max)]];
            }
        }
        (
            Plan::Newest { .. },
            Kind::Freshness {
                column,
                warn_after,
                error_after,
            },
        ) => freshness(
            &mut outcome,
            first(&found),
            now,
            &column.name,
            *warn_after,
            *error_after,
        ),
        (Plan::Series { .. }, Kind::Volume { .. }) => volume(&mut outcome, check, &found, now),
        _ => unreachable!("sql::plan gives each kind its plan"),
    }
    outcome
}

/// `3 failing rows: id=P1; id=P2; id=P3; …`: the key of the first few.
fn sample(found: &Collect, key: usize, n: u64) -> String {
    let mut cell = String::new();
    let rows: Vec<String> = found
        .rows
        .iter()
        .take(3)
        .map(|row| {
            let parts: Vec<String> = found
                .columns
                .iter()
                .zip(row)
                .take(key.max(1))
                .map(|(c, v)| {
                    crate::report::cell(v, &mut cell);
                    format!("{c}={cell}")
                })
                .collect();
            parts.join(" ")
        })
        .collect();
    let more = if n > 3 { "; …" } else { "" };
    let noun = if n == 1 { "row" } else { "rows" };
    format!("{n} failing {noun}: {}{more}", rows.join("; "))
}

fn text_time(epoch: i64) -> String {
    Timestamp::from_second(epoch).map_or_else(|_| epoch.to_string(), |t| t.to_string())
}

fn freshness(
    outcome: &mut Outcome,
    newest: Option<i64>,
    now: Timestamp,
    column: &str,
    warn_after: Option<i64>,
    error_after: Option<i64>,
) {
    let now_s = now.as_second();
    outcome.severity = if error_after.is_some() {
        Severity::Error
    } else {
        Severity::Warn
    };
    let Some(newest) = newest else {
        outcome.status = if error_after.is_some() {
            Status::Error
        } else {
            Status::Warn
        };
        outcome.failing_rows = 1;
        outcome.detail = format!("no row has a `{column}`");
        outcome.columns = ["newest", "now", "age_seconds"].map(String::from).to_vec();
        outcome.rows = vec![vec![
            Value::Null,
            Value::Text(text_time(now_s)),
            Value::Null,
        ]];
        return;
    };
    let age = now_s - newest;
    let (status, limit) = match (error_after, warn_after) {
        (Some(e), _) if age > e => (Status::Error, e),
        (_, Some(w)) if age > w => (Status::Warn, w),
        _ => (Status::Pass, 0),
    };
    if status == Status::Pass {
        return;
    }
    let after = if status == Status::Error {
        "error"
    } else {
        "warn"
    };
    outcome.status = status;
    outcome.failing_rows = 1;
    outcome.detail = format!(
        "the newest `{column}`, {}, is {} old ({after} after {})",
        text_time(newest),
        words(age),
        words(limit)
    );
    outcome.columns = ["newest", "now", "age_seconds"].map(String::from).to_vec();
    outcome.rows = vec![vec![
        Value::Text(text_time(newest)),
        Value::Text(text_time(now_s)),
        Value::Integer(age),
    ]];
}

/// The period an instant falls in, numbered so that consecutive periods are consecutive numbers.
fn period_of(period: Period, epoch: i64) -> i64 {
    const DAY: i64 = 86_400;
    match period {
        Period::Day => epoch.div_euclid(DAY),
        // 1970-01-05, a Monday, starts week 0.
        Period::Week => (epoch - 4 * DAY).div_euclid(7 * DAY),
        Period::Month => {
            let date = Timestamp::from_second(epoch)
                .map(|t| t.to_zoned_datetime(TimeZone::UTC).date())
                .unwrap_or(Date::constant(1970, 1, 1));
            i64::from(date.year()) * 12 + i64::from(date.month()) - 1
        }
    }
}

/// The first day of a period, as `YYYY-MM-DD`.
fn period_start(period: Period, n: i64) -> String {
    const DAY: i64 = 86_400;
    let epoch = match period {
        Period::Day => n * DAY,
        Period::Week => n * 7 * DAY + 4 * DAY,
        Period::Month => {
            let (year, month) = (n.div_euclid(12), n.rem_euclid(12) + 1);
            return format!("{year:04}-{month:02}-01");
        }
    };
    Timestamp::from_second(epoch).map_or_else(
        |_| n.to_string(),
        |t| t.to_zoned_datetime(TimeZone::UTC).date().to_string(),
    )
}

fn volume(outcome: &mut Outcome, check: &Check, found: &Collect, now: Timestamp) {
    let Kind::Volume {
        period,
        window,
        max_change_pct,
        min_rows,
        ..
    } = &check.kind
    else {
        unreachable!("volume() is given volume checks");
    };
    let (period, window) = (*period, *window as i64);
    let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
    for row in &found.rows {
        if let (Some(t), Some(n)) = (integer(row.first()), integer(row.get(1))) {
            *counts.entry(period_of(period, t)).or_default() += n.max(0) as u64;
        }
    }
    // The latest complete period is the one before the period `now` is in.
    let latest = period_of(period, now.as_second()) - 1;
    let name = period.name();
    let Some(&first) = counts.keys().next() else {
        outcome.detail = "no rows to count".into();
        return;
    };
    let before = (latest - first).clamp(0, window);
    if before < window {
        outcome.detail = format!(
            "not judged: {before} of the {window} {name}s before the {name} of {} hold data",
            period_start(period, latest)
        );
        return;
    }
    let at = |p: i64| counts.get(&p).copied().unwrap_or(0);
    let latest_rows = at(latest);
    let total: u64 = (latest - window..latest).map(at).sum();
    let mean = total as f64 / window as f64;
    if (latest_rows < *min_rows) && mean < *min_rows as f64 {
        outcome.detail = format!(
            "not judged: {latest_rows} rows in the {name} of {}, fewer than min_rows {min_rows}",
            period_start(period, latest)
        );
        return;
    }
    let change = if mean == 0.0 {
        if latest_rows == 0 { 0.0 } else { f64::INFINITY }
    } else {
        (latest_rows as f64 - mean) / mean * 100.0
    };
    if change.abs() <= *max_change_pct {
        return;
    }
    outcome.status = check.severity.into();
    outcome.failing_rows = 1;
    let direction = if change > 0.0 { "above" } else { "below" };
    let pct = if change.is_finite() {
        format!("{}%", crate::engine::functions::round(change.abs(), 0))
    } else {
        "infinitely".to_string()
    };
    outcome.detail = format!(
        "{latest_rows} rows in the {name} of {}, {pct} {direction} the mean {} of the {window} {name}s before (max change {max_change_pct}%)",
        period_start(period, latest),
        crate::engine::functions::round(mean, 1),
    );
    outcome.columns = ["period", "rows", "mean_before"].map(String::from).to_vec();
    outcome.rows = (latest - window..=latest)
        .map(|p| {
            vec![
                Value::Text(period_start(period, p)),
                Value::Integer(at(p) as i64),
                if p == latest {
                    Value::Real(crate::engine::functions::round(mean, 2))
                } else {
                    Value::Null
                },
            ]
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_numbered_consecutively() {
        let day = |d: &str| crate::engine::functions::epoch(d).unwrap();
        // 2026-11-30 is a Monday.
        let monday = period_of(Period::Week, day("2026-11-30"));
        assert_eq!(
            period_of(Period::Week, day("2026-11-29T23:59:59Z")),
            monday - 1
        );
        assert_eq!(period_of(Period::Week, day("2026-12-06T23:59:59Z")), monday);
        assert_eq!(period_start(Period::Week, monday), "2026-11-30");
        let m = period_of(Period::Month, day("2026-12-31"));
        assert_eq!(period_of(Period::Month, day("2027-01-01")), m + 1);
        assert_eq!(period_start(Period::Month, m), "2026-12-01");
        assert_eq!(
            period_start(
                Period::Day,
                period_of(Period::Day, day("1969-12-31T10:00:00Z"))
            ),
            "1969-12-31"
        );
    }
}
