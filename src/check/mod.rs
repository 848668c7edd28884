//! Checks: what `checks/*.yaml` declares about the tables and what each `checks/*.sql` query
//! finds, judged against the loaded data. This module owns the definitions (`Check`), their
//! parser (`parse`), the SQL they run (`sql`, one definition for every engine), how a result
//! becomes pass, warn or error (`evaluate`) and the files in output/ (`output`). It only reads
//! the database; recording results in `weir_checks` is the command's, on a read-write engine.

mod evaluate;
pub mod output;
mod parse;
mod sql;

use std::path::Path;

pub use evaluate::{Outcome, compile, run};
pub use parse::load;

use crate::error::{Diagnostic, Location, did_you_mean};

/// One declared check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Unique among the project's checks; also its file name in output/check_failures/.
    pub name: String,
    /// The table it reads; empty for a singular check (`checks/<name>.sql`).
    pub table: String,
    pub kind: Kind,
    pub severity: Severity,
    /// `where:`: only rows for which this SQL condition holds are checked.
    pub filter: Option<String>,
    /// `error_if` / `warn_if` on the number of failing rows (default `>0` both).
    pub error_if: Threshold,
    pub warn_if: Threshold,
    /// Where it is declared.
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    NotNull {
        columns: Vec<String>,
    },
    Unique {
        columns: Vec<String>,
    },
    AcceptedValues {
        column: String,
        values: Vec<String>,
    },
    Relationships {
        column: String,
        to_table: String,
        to_column: String,
    },
    /// A boolean SQL expression per row: rows where it is false fail (NULL passes, as in dbt).
    Expression {
        sql: String,
    },
    RowCount {
        min: Option<u64>,
        max: Option<u64>,
    },
    Freshness {
        column: TimeColumn,
        /// Seconds.
        warn_after: Option<i64>,
        error_after: Option<i64>,
    },
    Volume {
        column: TimeColumn,
        period: Period,
        window: usize,
        max_change_pct: f64,
        min_rows: u64,
    },
    /// `checks/<name>.sql`: every row the query returns is a failure.
    Singular {
        sql: String,
    },
}

impl Kind {
    /// Its name in checks files and in output/checks.csv (`sql` for a singular check).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::NotNull { .. } => "not_null",
            Kind::Unique { .. } => "unique",
            Kind::AcceptedValues { .. } => "accepted_values",
            Kind::Relationships { .. } => "relationships",
            Kind::Expression { .. } => "expression",
            Kind::RowCount { .. } => "row_count",
            Kind::Freshness { .. } => "freshness",
            Kind::Volume { .. } => "volume",
            Kind::Singular { .. } => "sql",
        }
    }
}

/// The kinds a checks file may name.
pub const KINDS: [&str; 8] = [
    "not_null",
    "unique",
    "accepted_values",
    "relationships",
    "expression",
    "row_count",
    "freshness",
    "volume",
];

/// A time column: text weir stores (`YYYY-MM-DD` or a timestamp with an offset, read with
/// `weir_epoch`) or whole seconds since 1970 (an `*_epoch` column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeColumn {
    pub name: String,
    pub epoch_seconds: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// ISO weeks, Monday to Sunday, UTC.
    Week,
    Month,
}

impl Period {
    pub const NAMES: [&'static str; 3] = ["day", "week", "month"];

    pub fn parse(name: &str) -> Option<Period> {
        match name {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warn,
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Error => "error",
        }
    }
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Warn,
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Status {
        match s {
            Severity::Warn => Status::Warn,
            Severity::Error => Status::Error,
        }
    }
}

/// `">5"`, `">=1"`, `"<10"`, `"<=3"`, `"=0"`, `"!=0"`: a condition on the number of failing
/// rows, as dbt writes `error_if` and `warn_if`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub op: Op,
    pub n: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
    Ne,
}

impl Threshold {
    pub const ANY: Threshold = Threshold { op: Op::Gt, n: 0 };

    pub fn parse(text: &str) -> Option<Threshold> {
        let text = text.trim();
        let (op, rest) = [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            ("==", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ]
        .into_iter()
        .find_map(|(p, op)| text.strip_prefix(p).map(|r| (op, r)))?;
        let rest = rest.trim();
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Threshold {
            op,
            n: rest.parse().ok()?,
        })
    }

    pub fn holds(self, count: u64) -> bool {
        match self.op {
            Op::Gt => count > self.n,
            Op::Ge => count >= self.n,
            Op::Lt => count < self.n,
            Op::Le => count <= self.n,
            Op::Eq => count == self.n,
            Op::Ne => count != self.n,
        }
    }
}

/// `90s`, `30m`, `12h`, `2d`, `1w` in seconds: a whole positive number and a unit, at most
/// 100 years (more is no age a pull reaches).
pub fn duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let seconds = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let number = &text[..text.len() - 1];
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = number.parse().ok()?;
    let total = n.checked_mul(seconds)?;
    (total > 0 && total <= 100 * 366 * 86_400).then_some(total)
}

/// A length of time in words, largest units first: `3d 4h`, `15m`, `0s`.
pub fn words(seconds: i64) -> String {
    let s = seconds.unsigned_abs();
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "m"), (sec, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .take(2)
        .map(|(n, u)| format!("{n}{u}"))
        .collect();
    let text = if parts.is_empty() {
        "0s".to_string()
    } else {
        parts.join(" ")
    };
    if seconds < 0 {
        format!("-{text}")
    } else {
        text
    }
}

/// The checks named in `names` (all when none is named): a name picks that check, a table's
/// name every check of that table. An unknown name is an error with a near name.
pub fn select(all: Vec<Check>, names: &[String]) -> Result<Vec<Check>, Vec<Diagnostic>> {
    if names.is_empty() {
        return Ok(all);
    }
    let mut problems = Vec::new();
    for n in names {
        if !all.iter().any(|c| &c.name == n || &c.table == n) {
            let candidates = all.iter().map(|c| c.name.as_str());
            let mut d = Diagnostic::new(format!("no check or checked table `{n}`"))
                .at(Location::file("checks/"));
            d.hint = did_you_mean(n, candidates)
                .or_else(|| did_you_mean(n, all.iter().map(|c| c.table.as_str())))
                .or_else(|| Some("`weir check` without `--select` lists every check".into()));
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(all
        .into_iter()
        .filter(|c| names.contains(&c.name) || names.contains(&c.table))
        .collect())
}

/// Whether the project declares checks: a `checks/` folder.
pub fn declared(root: &Path) -> bool {
    root.join("checks").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_read_as_dbt_writes_them() {
        let t = Threshold::parse(">5").unwrap();
        assert!(!t.holds(5) && t.holds(6));
        assert!(Threshold::parse(">= 1").unwrap().holds(1));
        assert!(Threshold::parse("!=0").unwrap().holds(3));
        assert!(Threshold::parse("=0").unwrap().holds(0));
        assert!(Threshold::parse("<=2").unwrap().holds(2));
        for bad in [
            "",
            ">",
            "5",
            ">-1",
            ">NaN",
            ">inf",
            ">1e20",
            ">1.5",
            "~5",
            ">99999999999999999999",
        ] {
            assert_eq!(Threshold::parse(bad), None, "{bad}");
        }
        assert_eq!(Threshold::parse(">0"), Some(Threshold::ANY));
    }

    #[test]
    fn durations_in_seconds() {
        assert_eq!(duration("90s"), Some(90));
        assert_eq!(duration("30m"), Some(1800));
        assert_eq!(duration("2d"), Some(172_800));
        assert_eq!(duration("1w"), Some(604_800));
        for bad in [
            "", "d", "0d", "-1d", "1.5d", "NaNd", "infd", "1e20d", "2", "2y", "101000w",
        ] {
            assert_eq!(duration(bad), None, "{bad}");
        }
        assert_eq!(words(273_600), "3d 4h");
        assert_eq!(words(0), "0s");
        assert_eq!(words(-90), "-1m 30s");
    }
}
