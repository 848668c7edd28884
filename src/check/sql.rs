//! The SQL of a check, from one definition for every engine. It keeps to what SQLite and DuckDB
//! read alike: no integer division (DuckDB's `/` is real), no date functions (time is read with
//! `weir_epoch`, and periods are counted in Rust), no ordering of NULLs (failing rows are sorted
//! in Rust). What an engine spells its own way is in `Dialect`, and nowhere else.

use super::{Check, Kind, TimeColumn};
use crate::engine::{self, Table, quote};

/// The per-engine spellings.
struct Dialect {
    /// The name of the text type in a CAST.
    text: &'static str,
}

impl Dialect {
    fn of(kind: engine::Kind) -> Dialect {
        match kind {
            engine::Kind::Sqlite => Dialect { text: "TEXT" },
            engine::Kind::DuckDb => Dialect { text: "VARCHAR" },
            engine::Kind::ClickHouse => Dialect {
                text: "Nullable(String)",
            },
        }
    }

    fn as_text(&self, expr: &str) -> String {
        format!("CAST({expr} AS {})", self.text)
    }
}

/// What a check asks the database, and how the answer is read.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Every row returned fails; the first `key` columns identify it.
    Rows { sql: String, key: usize },
    /// One row: the number of rows.
    Count { sql: String },
    /// One row: the newest instant, in epoch seconds (NULL when there is none).
    Newest { sql: String },
    /// Rows of (instant in epoch seconds, number of rows at it).
    Series { sql: String },
}

impl Plan {
    pub fn sql(&self) -> &str {
        match self {
            Plan::Rows { sql, .. }
            | Plan::Count { sql }
            | Plan::Newest { sql }
            | Plan::Series { sql } => sql,
        }
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Epoch seconds of a time column.
fn epoch(column: &TimeColumn) -> String {
    if column.epoch_seconds {
        quote(&column.name)
    } else {
        format!("weir_epoch({})", quote(&column.name))
    }
}

/// The plan of `check` on an engine of `kind`; `tables` are the declared tables.
pub fn plan(check: &Check, tables: &[Table], kind: engine::Kind) -> Plan {
    let dialect = Dialect::of(kind);
    let t = quote(&check.table);
    let table = tables.iter().find(|x| x.name == check.table);
    // The key of a failing row: the primary key, or every column of a table without one.
    let key: Vec<String> = match table {
        Some(table) if !table.primary_key().is_empty() => table
            .primary_key()
            .into_iter()
            .map(str::to_string)
            .collect(),
        Some(table) => table.columns.iter().map(|c| c.name.clone()).collect(),
        None => Vec::new(),
    };
    let filter = |condition: Option<String>| -> String {
        let mut parts: Vec<String> = check.filter.iter().map(|f| format!("({f}\n)")).collect();
        parts.extend(condition);
        if parts.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", parts.join(" AND "))
        }
    };
    // Key columns first, then the checked ones not in the key.
    let shown = |checked: &[String]| -> (String, usize) {
        let mut cols = key.clone();
        for c in checked {
            if !cols.contains(c) {
                cols.push(c.clone());
            }
        }
        let list: Vec<String> = cols.iter().map(|c| format!("{t}.{}", quote(c))).collect();
        (list.join(", "), key.len())
    };
    match &check.kind {
        Kind::NotNull { columns } => {
            let (cols, key) = shown(columns);
            let nulls: Vec<String> = columns
                .iter()
                .map(|c| format!("{t}.{} IS NULL", quote(c)))
                .collect();
            Plan::Rows {
                sql: format!(
                    "SELECT {cols} FROM {t}{}",
                    filter(Some(format!("({})", nulls.join(" OR "))))
                ),
                key,
            }
        }
        Kind::Unique { columns } => {
            let cols: Vec<String> = columns.iter().map(|c| quote(c)).collect();
            let cols = cols.join(", ");
            let present: Vec<String> = columns
                .iter()
                .map(|c| format!("{} IS NOT NULL", quote(c)))
                .collect();
            Plan::Rows {
                sql: format!(
                    "SELECT {cols}, COUNT(*) AS duplicates FROM {t}{} GROUP BY {cols} HAVING COUNT(*) > 1",
                    filter(Some(present.join(" AND ")))
                ),
                key: columns.len(),
            }
        }
        Kind::AcceptedValues { column, values } => {
            let (cols, key) = shown(std::slice::from_ref(column));
            let list: Vec<String> = values.iter().map(|v| literal(v)).collect();
            let c = format!("{t}.{}", quote(column));
            // A boolean as text is `1`/`0` on SQLite but `true`/`false` on DuckDB: through an
            // integer it reads `1`/`0` on both, as the checks file's `true`/`false` are read.
            let boolean = table
                .and_then(|x| x.column(column))
                .is_some_and(|c| c.declared.to_ascii_uppercase().contains("BOOL"));
            let text = if boolean {
                dialect.as_text(&format!("CAST({c} AS INTEGER)"))
            } else {
                dialect.as_text(&c)
            };
            Plan::Rows {
                sql: format!(
                    "SELECT {cols} FROM {t}{}",
                    filter(Some(format!(
                        "{c} IS NOT NULL AND {text} NOT IN ({})",
                        list.join(", ")
                    )))
                ),
                key,
            }
        }
        Kind::Relationships {
            column,
            to_table,
            to_column,
        } => {
            let (cols, key) = shown(std::slice::from_ref(column));
            let c = format!("{t}.{}", quote(column));
            let other = format!("weir_to.{}", quote(to_column));
            // Compared as text: an id may be TEXT in one table and a number in the other.
            let declared = |table: &str, column: &str| {
                tables
                    .iter()
                    .find(|x| x.name == table)
                    .and_then(|x| x.column(column))
                    .map(|c| c.declared.clone())
            };
            let same_type = declared(&check.table, column) == declared(to_table, to_column);
            let (a, b) = if same_type {
                (c.clone(), other)
            } else {
                (dialect.as_text(&c), dialect.as_text(&other))
            };
            Plan::Rows {
                sql: format!(
                    "SELECT {cols} FROM {t}{}",
                    filter(Some(format!(
                        "{c} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {} AS weir_to WHERE {b} = {a})",
                        quote(to_table)
                    )))
                ),
                key,
            }
        }
        Kind::Expression { sql } => {
            let all: Vec<String> = table
                .map(|x| x.columns.iter().map(|c| c.name.clone()).collect())
                .unwrap_or_default();
            let (cols, key) = shown(&all);
            Plan::Rows {
                sql: format!(
                    "SELECT {cols} FROM {t}{}",
                    filter(Some(format!("NOT ({sql}\n)")))
                ),
                key,
            }
        }
        Kind::RowCount { .. } => Plan::Count {
            sql: format!("SELECT COUNT(*) FROM {t}{}", filter(None)),
        },
        Kind::Freshness { column, .. } => Plan::Newest {
            sql: format!(
                "SELECT MAX({}) FROM {t}{}",
                epoch(column),
                filter(Some(format!("{} IS NOT NULL", quote(&column.name))))
            ),
        },
        Kind::Volume { column, .. } => Plan::Series {
            sql: format!(
                "SELECT {}, COUNT(*) FROM {t}{} GROUP BY 1",
                epoch(column),
                filter(Some(format!("{} IS NOT NULL", quote(&column.name))))
            ),
        },
        Kind::Singular { sql } => Plan::Rows {
            sql: sql.clone(),
            key: 1,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Period, Severity, Threshold};
    use crate::engine::Column;
    use crate::error::Location;

    fn table() -> Table {
        let col = |name: &str, pk| Column {
            name: name.into(),
            declared: "TEXT".into(),
            pk,
            notnull: false,
            default: None,
        };
        Table {
            name: "t".into(),
            columns: vec![col("id", 1), col("v", 0)],
            checks: Vec::new(),
            indexes: Vec::new(),
            sql: String::new(),
        }
    }

    fn check(kind: Kind) -> Check {
        Check {
            name: "c".into(),
            table: "t".into(),
            kind,
            severity: Severity::Error,
            filter: Some("v <> 'x'".into()),
            error_if: Threshold::ANY,
            warn_if: Threshold::ANY,
            at: Location::file("checks/t.yaml"),
        }
    }

    #[test]
    fn one_definition_spelled_per_engine() {
        let c = check(Kind::AcceptedValues {
            column: "v".into(),
            values: vec!["a".into(), "it's".into()],
        });
        let sqlite = plan(&c, &[table()], engine::Kind::Sqlite);
        assert_eq!(
            sqlite.sql(),
            "SELECT \"t\".\"id\", \"t\".\"v\" FROM \"t\" WHERE (v <> 'x'\n) AND \"t\".\"v\" IS NOT NULL \
             AND CAST(\"t\".\"v\" AS TEXT) NOT IN ('a', 'it''s')"
        );
        let duckdb = plan(&c, &[table()], engine::Kind::DuckDb);
        assert_eq!(
            duckdb.sql(),
            sqlite.sql().replace("AS TEXT", "AS VARCHAR"),
            "the engines differ only in the Dialect"
        );
        let v = check(Kind::Volume {
            column: TimeColumn {
                name: "v".into(),
                epoch_seconds: false,
            },
            period: Period::Week,
            window: 4,
            max_change_pct: 50.0,
            min_rows: 0,
        });
        assert_eq!(
            plan(&v, &[table()], engine::Kind::Sqlite).sql(),
            "SELECT weir_epoch(\"v\"), COUNT(*) FROM \"t\" WHERE (v <> 'x'\n) AND \"v\" IS NOT NULL GROUP BY 1"
        );
    }
}
