//! History tables (`history: true` in a mapper): `<table>_history` keeps every version of each
//! row with `valid_from`/`valid_to`, as a dbt snapshot (SCD type 2) does, but whatever order the
//! versions load in. This module owns the table's definition, made from the current table's, and
//! the few set statements that fold a batch of records into it, which a load runs through
//! `Load::execute`. An engine may keep the table itself instead (`Load::keep_history`): DuckDB
//! folds the batches it merges (`engine::duckdb::history`), ClickHouse its own way.
//!
//! A batch goes through a temporary table, then: the stored versions the batch repeats go
//! (equal versions replace each other, the last loaded wins, as in the current table); the
//! batch's last copy of each version goes in; `valid_to` of every version of the batch's keys is
//! set to the next version's `valid_from` (NULL for the newest). Each statement starts from the
//! batch and reaches the history by its key index (`CROSS JOIN` fixes SQLite's join order), so
//! the work follows the batch, not the table.

use super::{Column, Table, WriteSpec, quote};

pub const VALID_FROM: &str = "valid_from";
pub const VALID_TO: &str = "valid_to";

/// The name of `table`'s history table.
pub fn history_name(table: &str) -> String {
    format!("{table}_history")
}

/// `CREATE TABLE <table>_history`: the columns of `table` as it declares them (types, NOT NULL,
/// DEFAULT; CHECK constraints stay with the current table), then `valid_from` and `valid_to` of
/// the version column's type; the key is the table's key and `valid_from`.
pub fn history_table_sql(table: &Table, version: &Column) -> String {
    let key = table.primary_key();
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("    {}", quote(&c.name));
            if !c.declared.is_empty() {
                line.push(' ');
                line.push_str(&c.declared);
            }
            if c.notnull || c.pk > 0 {
                line.push_str(" NOT NULL");
            }
            if let Some(d) = &c.default {
                line.push_str(&format!(" DEFAULT ({d})"));
            }
            line
        })
        .collect();
    let ty = if version.declared.is_empty() {
        String::new()
    } else {
        format!(" {}", version.declared)
    };
    lines.push(format!("    {}{ty} NOT NULL", quote(VALID_FROM)));
    lines.push(format!("    {}{ty}", quote(VALID_TO)));
    let pk: Vec<String> = key.iter().copied().chain([VALID_FROM]).map(quote).collect();
    lines.push(format!("    PRIMARY KEY ({})", pk.join(", ")));
    format!(
        "CREATE TABLE {} (\n{}\n)",
        quote(&history_name(&table.name)),
        lines.join(",\n")
    )
}

/// The statements that keep one writer's history table, built once per load.
#[derive(Debug, Clone)]
pub struct HistorySql {
    /// The columns of a staged row: the writer's, then the record's number in the load.
    pub width: usize,
    /// Makes the temporary table that holds a batch (typed like the current table).
    pub create: String,
    /// Stages one row.
    pub insert_one: String,
    /// Stages `ROWS_PER_INSERT` rows at once: fewer round trips.
    pub insert_many: String,
    pub rows_per_insert: usize,
    /// Folds the staged batch into the history, in order.
    pub apply: Vec<String>,
    /// Empties the temporary table for the next batch.
    pub clear: String,
    /// Closes the open version of every key the current table no longer holds (a complete
    /// source dropped it): `valid_to` becomes the newest version the current table holds, or
    /// the row's own `valid_from` when none is newer.
    pub close: String,
    pub drop: String,
}

/// Parameters one multi-row insert may bind: below SQLite's limit of 32766.
const MAX_PARAMS: usize = 30_000;

impl HistorySql {
    /// None when the writer has no version (a mapper with `history: true` always has one).
    /// `stage` names the temporary table; it must be unique in the process, so a statement
    /// an engine prepared for an earlier load never meets a table of the same name.
    pub fn new(spec: &WriteSpec, history: &str, stage: &str) -> Option<Self> {
        let table = quote(&spec.table);
        let s = quote(stage);
        let cols: Vec<String> = spec.columns.iter().map(|c| quote(c)).collect();
        let all = cols.join(", ");
        let width = cols.len() + 1;
        let marks = format!("({})", vec!["?"; width].join(", "));
        let rows_per_insert = (MAX_PARAMS / width).clamp(1, 100);
        Some(HistorySql {
            width,
            create: format!(
                "CREATE TEMP TABLE {s} AS SELECT {all}, 0 AS \"weir_seq\" FROM {table} LIMIT 0"
            ),
            insert_one: format!("INSERT INTO {s} VALUES {marks}"),
            insert_many: format!(
                "INSERT INTO {s} VALUES {}",
                vec![marks.as_str(); rows_per_insert].join(", ")
            ),
            rows_per_insert,
            apply: fold_sql(spec, history, &s)?,
            clear: format!("DELETE FROM {s}"),
            close: close_sql(spec, history)?,
            drop: format!("DROP TABLE {s}"),
        })
    }
}

/// `a.k1 = b.k1 AND a.k2 = b.k2 …` over the (quoted) key columns `key`.
pub(crate) fn same_key(key: &[&str], a: &str, b: &str) -> String {
    key.iter()
        .map(|k| format!("{a}.{k} = {b}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Closes the open version of every key `spec`'s table no longer holds (see `HistorySql::close`).
pub fn close_sql(spec: &WriteSpec, history: &str) -> Option<String> {
    let v = quote(&spec.columns[spec.version?]);
    let table = quote(&spec.table);
    let hist = quote(history);
    let key: Vec<String> = spec.key.iter().map(|&k| quote(&spec.columns[k])).collect();
    let key: Vec<&str> = key.iter().map(String::as_str).collect();
    let (from, to) = (quote(VALID_FROM), quote(VALID_TO));
    Some(format!(
        "UPDATE {hist} SET {to} = CASE WHEN m.\"weir_newest\" > {hist}.{from} \
           THEN m.\"weir_newest\" ELSE {hist}.{from} END \
         FROM (SELECT max({v}) AS \"weir_newest\" FROM {table}) AS m \
         WHERE {hist}.{to} IS NULL AND NOT EXISTS (SELECT 1 FROM {table} AS c WHERE {})",
        same_key(&key, "c", &hist)
    ))
}

/// The set statements that fold `rows` into the history table `history`, in order: `rows` is a
/// table or a parenthesised query with the writer's columns and `"weir_seq"`, the record's
/// number (the last copy of a version wins). None when the writer has no version.
fn fold_sql(spec: &WriteSpec, history: &str, rows: &str) -> Option<Vec<String>> {
    let v = quote(&spec.columns[spec.version?]);
    let hist = quote(history);
    let s = rows;
    let cols: Vec<String> = spec.columns.iter().map(|c| quote(c)).collect();
    let all = cols.join(", ");
    let key: Vec<&str> = spec.key.iter().map(|&k| cols[k].as_str()).collect();
    let keys = key.join(", ");
    let same = |a: &str, b: &str| same_key(&key, a, b);
    let (from, to) = (quote(VALID_FROM), quote(VALID_TO));
    let delete = format!(
        "DELETE FROM {hist} WHERE rowid IN (SELECT h.rowid FROM {s} AS s CROSS JOIN {hist} AS h \
         WHERE {} AND h.{from} = s.{v})",
        same("h", "s")
    );
    let insert = format!(
        "INSERT INTO {hist} ({all}, {from}) SELECT {all}, {v} FROM \
           (SELECT *, row_number() OVER (PARTITION BY {keys}, {v} ORDER BY \"weir_seq\" DESC) \
            AS \"weir_rank\" FROM {s} AS s WHERE {v} IS NOT NULL) AS w \
         WHERE \"weir_rank\" = 1"
    );
    let hkeys: Vec<String> = key.iter().map(|k| format!("h.{k}")).collect();
    let update = format!(
        "UPDATE {hist} SET {to} = n.\"weir_next\" FROM \
           (SELECT h.rowid AS \"weir_row\", \
                   lead(h.{from}) OVER (PARTITION BY {} ORDER BY h.{from}) AS \"weir_next\" \
            FROM (SELECT DISTINCT {keys} FROM {s} AS s) AS b CROSS JOIN {hist} AS h WHERE {}) AS n \
         WHERE {hist}.rowid = n.\"weir_row\" AND {hist}.{to} IS DISTINCT FROM n.\"weir_next\"",
        hkeys.join(", "),
        same("h", "b")
    );
    Some(vec![delete, insert, update])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Load, Sqlite, Value};

    const SCHEMA: &str = "CREATE TABLE t (id TEXT, n BIGINT DEFAULT 0, status TEXT NOT NULL, \
                          v TEXT, PRIMARY KEY (id));";

    fn setup() -> (Sqlite, HistorySql) {
        let mut engine = Sqlite::in_memory().unwrap();
        let mut tables = engine.declared_tables(SCHEMA).unwrap();
        let t = tables[0].clone();
        let ddl = history_table_sql(&t, t.column("v").unwrap());
        tables.extend(
            engine
                .declared_tables(&format!("{SCHEMA}\n{ddl}"))
                .unwrap()
                .into_iter()
                .skip(1),
        );
        let create: Vec<&Table> = tables.iter().collect();
        engine.apply_schema(&[], &create).unwrap();
        let spec = WriteSpec {
            id: 1,
            table: "t".into(),
            columns: vec!["id".into(), "status".into(), "v".into()],
            key: vec![0],
            version: Some(2),
        };
        let sql = HistorySql::new(&spec, "t_history", "weir_history_test").unwrap();
        (engine, sql)
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// Stages `rows` (id, status, version) as one batch and folds it in.
    fn batch(load: &mut dyn Load, sql: &HistorySql, seq: &mut i64, rows: &[(&str, &str, &str)]) {
        for &(id, status, v) in rows {
            *seq += 1;
            let v = if v.is_empty() { Value::Null } else { text(v) };
            load.execute(
                &sql.insert_one,
                &[text(id), text(status), v, Value::Integer(*seq)],
            )
            .unwrap();
        }
        for s in &sql.apply {
            load.execute(s, &[]).unwrap();
        }
        load.execute(&sql.clear, &[]).unwrap();
    }

    fn history(load: &mut dyn Load) -> Vec<Vec<Value>> {
        load.select(
            "SELECT id, status, n, valid_from, valid_to FROM t_history ORDER BY id, valid_from",
            &[],
        )
        .unwrap()
    }

    #[test]
    fn the_table_is_made_from_the_current_one() {
        let engine = Sqlite::in_memory().unwrap();
        let t = engine.declared_tables(SCHEMA).unwrap().remove(0);
        let ddl = history_table_sql(&t, t.column("v").unwrap());
        assert_eq!(
            ddl,
            "CREATE TABLE \"t_history\" (\n    \"id\" TEXT NOT NULL,\n    \"n\" BIGINT DEFAULT (0),\n    \
             \"status\" TEXT NOT NULL,\n    \"v\" TEXT,\n    \"valid_from\" TEXT NOT NULL,\n    \
             \"valid_to\" TEXT,\n    PRIMARY KEY (\"id\", \"valid_from\")\n)"
        );
        let h = engine
            .declared_tables(&ddl)
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        assert_eq!(h.primary_key(), ["id", "valid_from"]);
    }

    #[test]
    fn versions_fall_into_place_whatever_the_order() {
        let (mut engine, sql) = setup();
        let mut load = engine.begin_load().unwrap();
        let mut seq = 0;
        load.execute(&sql.create, &[]).unwrap();
        batch(load.as_mut(), &sql, &mut seq, &[("a", "resolved", "3")]);
        batch(
            load.as_mut(),
            &sql,
            &mut seq,
            &[("a", "triggered", "1"), ("b", "triggered", "")],
        );
        // A late version in the middle, twice in one batch: the later copy wins.
        batch(
            load.as_mut(),
            &sql,
            &mut seq,
            &[("a", "acked", "2"), ("a", "acknowledged", "2")],
        );
        let want = |rows: &[(&str, &str, &str, &str)]| -> Vec<Vec<Value>> {
            rows.iter()
                .map(|&(id, status, from, to)| {
                    let to = if to.is_empty() { Value::Null } else { text(to) };
                    vec![text(id), text(status), Value::Integer(0), text(from), to]
                })
                .collect()
        };
        let three = want(&[
            ("a", "triggered", "1", "2"),
            ("a", "acknowledged", "2", "3"),
            ("a", "resolved", "3", ""),
        ]);
        assert_eq!(history(load.as_mut()), three);
        // An equal version again replaces the stored copy; nothing else moves.
        batch(load.as_mut(), &sql, &mut seq, &[("a", "acked", "2")]);
        let mut again = three.clone();
        again[1][1] = text("acked");
        assert_eq!(history(load.as_mut()), again);
        // The current table lost `a`: its open version closes at the newest version left.
        load.execute("INSERT INTO t (id, status, v) VALUES ('c', 'x', '5')", &[])
            .unwrap();
        assert_eq!(load.execute(&sql.close, &[]).unwrap(), 1);
        let closed = history(load.as_mut());
        assert_eq!(closed[2][4], text("5"));
        load.execute(&sql.drop, &[]).unwrap();
        load.commit().unwrap();
    }

    #[test]
    fn a_batch_reaches_the_history_by_its_key_index() {
        let (mut engine, sql) = setup();
        let mut load = engine.begin_load().unwrap();
        load.execute(&sql.create, &[]).unwrap();
        for s in &sql.apply {
            let plan = load
                .select(&format!("EXPLAIN QUERY PLAN {s}"), &[])
                .unwrap();
            let steps: Vec<String> = plan
                .iter()
                .filter_map(|r| match r.last() {
                    Some(Value::Text(t)) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let scans: Vec<&String> = steps
                .iter()
                .filter(|t| t.starts_with("SCAN") && (t.contains(" h") || t.contains("t_history")))
                .collect();
            assert!(scans.is_empty(), "{s}\n{steps:#?}");
        }
    }
}
