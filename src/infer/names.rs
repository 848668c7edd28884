//! SQL names for fields: letters, digits and `_`, starting with a letter, at most 63 characters
//! (what `schemas/` accepts), and never a word SQLite or DuckDB reserves, so a proposal's tables
//! and columns need no quoting in either engine or in a report's SQL.

use std::collections::HashSet;

/// Words reserved by SQLite or DuckDB (or both), lower case: a name that is one gets a `_`.
const RESERVED: &[&str] = &[
    "_rowid_",
    "abort",
    "add",
    "all",
    "alter",
    "analyse",
    "analyze",
    "and",
    "anti",
    "any",
    "array",
    "as",
    "asc",
    "asof",
    "asymmetric",
    // DuckDB's bundled parser refuses `at` as a column name (`AT (VERSION => …)`).
    "at",
    "authorization",
    "autoincrement",
    "between",
    "binary",
    "both",
    "by",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "commit",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_date",
    "current_time",
    "current_timestamp",
    "default",
    "deferrable",
    "delete",
    "desc",
    "describe",
    "distinct",
    "do",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "generated",
    "glob",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "index",
    "initially",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "map",
    "natural",
    "not",
    "nothing",
    "notnull",
    "null",
    "offset",
    "oid",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "pivot",
    "placing",
    "positional",
    "primary",
    "qualify",
    "references",
    "returning",
    "right",
    "rowid",
    "select",
    "semi",
    "set",
    "show",
    "similar",
    "some",
    "struct",
    "summarize",
    "symmetric",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "transaction",
    "true",
    "try_cast",
    "union",
    "unique",
    "unpivot",
    "update",
    "using",
    "values",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

const MAX: usize = 63;

/// `updatedAt` -> `updated_at`, `Email Address` -> `email_address`, `2fa` -> `f_2fa`,
/// `order` -> `order_`.
pub fn ident(raw: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in raw.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let mut out = out.trim_matches('_').to_string();
    while out.contains("__") {
        out = out.replace("__", "_");
    }
    if out.is_empty() {
        out = "field".into();
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "f_");
    }
    out.truncate(MAX);
    let mut out = out.trim_end_matches('_').to_string();
    if RESERVED.contains(&out.as_str()) {
        out.push('_');
    }
    out
}

/// The names taken in one scope (a table's columns, or the project's tables).
#[derive(Debug, Default)]
pub struct Names {
    taken: HashSet<String>,
}

impl Names {
    pub fn new(taken: impl IntoIterator<Item = String>) -> Names {
        Names {
            taken: taken.into_iter().collect(),
        }
    }

    /// `base` (an `ident`), or `base_2`, `base_3`, … when taken.
    pub fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 2;
        while self.taken.contains(&name) {
            let suffix = format!("_{n}");
            let mut stem = base.to_string();
            stem.truncate(MAX - suffix.len());
            name = format!("{stem}{suffix}");
            n += 1;
        }
        self.taken.insert(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents() {
        assert_eq!(ident("updatedAt"), "updated_at");
        assert_eq!(ident("Email Address"), "email_address");
        assert_eq!(ident("2fa"), "f_2fa");
        assert_eq!(ident("order"), "order_");
        assert_eq!(ident("Select"), "select_");
        assert_eq!(ident("__"), "field");
        assert_eq!(ident("café-au lait!"), "caf_au_lait");
        assert_eq!(ident(&"x".repeat(80)).len(), 63);
        assert_eq!(ident("event.type"), "event_type");
    }

    #[test]
    fn fresh_names() {
        let mut names = Names::new(["id".to_string()]);
        assert_eq!(names.fresh("id"), "id_2");
        assert_eq!(names.fresh("id"), "id_3");
        assert_eq!(names.fresh("name"), "name");
    }
}
