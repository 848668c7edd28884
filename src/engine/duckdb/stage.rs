//! The statements that merge one writer's held rows into its table and child tables, built once
//! per load: they read the held batch in place (`weir_batch(?)`), columns cast to the types the
//! tables declare.

use anyhow::Context;
use duckdb::Connection;

use super::held::Held;
use super::history::HistoryFold;
use super::merge::LOCAL_ROW_ID;
use crate::engine::{ChildSpec, WriteSpec, quote};

/// The rows held for one top table and its children, and the statements that merge them.
pub(super) struct Stage {
    pub(super) spec: WriteSpec,
    /// Top rows: the spec's columns, then the record's number in the load.
    pub(super) top: Held,
    /// Per child table: its columns, then the parent record's number and the row's number.
    pub(super) children: Vec<Held>,
    /// Key (and version) columns and the record number: picks the batch's winners.
    pub(super) probe: Vec<usize>,
    pub(super) winners_sql: String,
    /// Deletes stored rows by row id (the column after the held ones).
    pub(super) delete_sql: String,
    /// The table has columns this writer does not write: a replaced row keeps them, as an
    /// upsert that sets only its own columns would, so it is updated in place instead.
    pub(super) keeps_rest: bool,
    /// Sets the writer's non-key columns of stored rows by row id (the column after the held
    /// ones); empty when the writer has none.
    pub(super) update_sql: String,
    /// Deletes the children of the winners in the batch, per child table.
    pub(super) delete_children_sql: Vec<String>,
    pub(super) insert_sql: String,
    pub(super) insert_children_sql: Vec<String>,
    /// `history: true`: folds every held record (winner or not) into the history table.
    pub(super) history: Option<HistoryFold>,
}

impl Stage {
    pub(super) fn new(
        conn: &Connection,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        history: Option<&str>,
    ) -> anyhow::Result<Self> {
        let declared = table_columns(conn, &spec.table)?;
        let types = types_of(&declared, &spec.table, &spec.columns)?;
        let table = quote(&spec.table);
        let width = spec.columns.len();
        let (probe, winners_sql) = winners_sql(spec, &types);
        let rows = format!(
            "(SELECT {} FROM weir_batch(?))",
            typed(&spec.columns, &types, 0..width)
        );
        let names = cols(&spec.columns);
        let mut stage = Stage {
            spec: spec.clone(),
            top: Held::new(width + 1),
            children: Vec::new(),
            probe,
            winners_sql,
            delete_sql: format!(
                "DELETE FROM {table} WHERE rowid IN (SELECT c{} FROM weir_batch(?))",
                width + 1
            ),
            keeps_rest: declared
                .iter()
                .any(|(name, _)| !spec.columns.contains(name)),
            update_sql: update_sql(spec, &types),
            delete_children_sql: Vec::new(),
            insert_sql: format!("INSERT INTO {table} ({names}) SELECT {names} FROM {rows}"),
            insert_children_sql: Vec::new(),
            history: None,
        };
        if let Some(history) = history {
            stage.history =
                Some(HistoryFold::new(spec, history, &types).with_context(|| {
                    format!("`{}` keeps history but has no version", spec.table)
                })?);
        }
        for child in child_specs {
            stage.delete_children_sql.push(format!(
                "DELETE FROM {} USING {rows} w WHERE {}",
                quote(&child.spec.table),
                child.link_condition(spec, "w")
            ));
            stage
                .insert_children_sql
                .push(insert_child_sql(conn, &child.spec)?);
            stage.children.push(Held::new(child.spec.columns.len() + 2));
        }
        Ok(stage)
    }
}

/// The columns that pick a batch's winners (key, version, record number), and the statement:
/// per key the newest copy in the batch (the latest among equals), where it is at least as new
/// as the stored row; the row id of the stored row it replaces, and whether that row was
/// written earlier in this load.
fn winners_sql(spec: &WriteSpec, types: &[String]) -> (Vec<usize>, String) {
    let width = spec.columns.len();
    let key: Vec<String> = spec.key.iter().map(|&k| quote(&spec.columns[k])).collect();
    let on: Vec<String> = key.iter().map(|k| format!("t.{k} = s.{k}")).collect();
    let mut probe: Vec<usize> = spec.key.clone();
    probe.extend(spec.version);
    let probe_columns = typed(&spec.columns, types, probe.iter().copied());
    probe.push(width);
    let (order, newer) = match spec.version {
        Some(v) => {
            let v = quote(&spec.columns[v]);
            (
                format!("{v} DESC NULLS LAST, _weir_seq DESC"),
                format!("t.{} IS NULL OR t.{v} IS NULL OR s.{v} >= t.{v}", key[0]),
            )
        }
        // Without a version every copy replaces the stored row.
        None => ("_weir_seq DESC".to_string(), "true".to_string()),
    };
    let sql = format!(
        "SELECT s._weir_seq, t.rowid, coalesce(t.rowid >= {LOCAL_ROW_ID}, false) FROM \
           (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY {order}) AS _weir_rank \
            FROM (SELECT {probe_columns}, c{width} AS _weir_seq FROM weir_batch(?))) s \
         LEFT JOIN {} t ON {} \
         WHERE s._weir_rank = 1 AND ({newer})",
        key.join(", "),
        quote(&spec.table),
        on.join(" AND "),
    );
    (probe, sql)
}

/// Sets the writer's non-key columns of the stored rows the batch names by row id. The values a
/// replaced row keeps never leave DuckDB: every type and generated column stays as it is.
fn update_sql(spec: &WriteSpec, types: &[String]) -> String {
    let set: Vec<usize> = (0..spec.columns.len())
        .filter(|i| !spec.key.contains(i))
        .collect();
    if set.is_empty() {
        return String::new();
    }
    let table = quote(&spec.table);
    let assign: Vec<String> = set
        .iter()
        .map(|&i| format!("{0} = w.{0}", quote(&spec.columns[i])))
        .collect();
    format!(
        "UPDATE {table} SET {} FROM (SELECT {}, c{} AS _weir_old FROM weir_batch(?)) w \
         WHERE {table}.rowid = w._weir_old",
        assign.join(", "),
        typed(&spec.columns, types, set.iter().copied()),
        spec.columns.len() + 1
    )
}

/// Inserts the held rows of a child table; a later duplicate child key wins, as in a one-by-one
/// load.
fn insert_child_sql(conn: &Connection, c: &WriteSpec) -> anyhow::Result<String> {
    let types = types_of(&table_columns(conn, &c.table)?, &c.table, &c.columns)?;
    let names = cols(&c.columns);
    let rows = typed(&c.columns, &types, 0..c.columns.len());
    let table = quote(&c.table);
    if c.key.is_empty() {
        return Ok(format!(
            "INSERT INTO {table} ({names}) SELECT {names} FROM (SELECT {rows} FROM weir_batch(?))"
        ));
    }
    let key: Vec<String> = c.key.iter().map(|&k| quote(&c.columns[k])).collect();
    Ok(format!(
        "INSERT INTO {table} ({names}) SELECT {names} FROM \
           (SELECT *, row_number() OVER (PARTITION BY {} ORDER BY _weir_row DESC) AS _weir_rank \
            FROM (SELECT {rows}, c{} AS _weir_row FROM weir_batch(?))) \
         WHERE _weir_rank = 1",
        key.join(", "),
        c.columns.len() + 1
    ))
}

/// `CAST(c0 AS type) AS "name", …` for the columns at `places`: held columns as the table
/// declares them (a held column is named after its place in the row).
pub(super) fn typed(
    names: &[String],
    types: &[String],
    places: impl IntoIterator<Item = usize>,
) -> String {
    places
        .into_iter()
        .map(|i| format!("CAST(c{i} AS {}) AS {}", types[i], quote(&names[i])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every column of `table` with its declared type, as DuckDB spells it, in table order.
fn table_columns(conn: &Connection, table: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT column_name, data_type FROM duckdb_columns() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ? \
         ORDER BY column_index",
    )?;
    Ok(stmt
        .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?)
}

/// The types of `columns` among the `declared` columns of `table`.
fn types_of(
    declared: &[(String, String)],
    table: &str,
    columns: &[String],
) -> anyhow::Result<Vec<String>> {
    columns
        .iter()
        .map(|c| {
            declared
                .iter()
                .find(|(name, _)| name == c)
                .map(|(_, ty)| ty.clone())
                .with_context(|| format!("table `{table}` has no column `{c}`"))
        })
        .collect()
}

/// `"a", "b", …`.
fn cols(names: &[String]) -> String {
    names
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ")
}
