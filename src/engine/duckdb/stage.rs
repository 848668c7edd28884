//! The statements that merge one writer's held rows into its table and child tables, built once
//! per load: they read the held batch in place (`weir_batch(?)`), columns cast to the types the
//! tables declare.

use anyhow::Context;
use duckdb::Connection;

use super::fresh::{Fresh, KeyKind};
use super::held::Held;
use super::history::HistoryFold;
use super::merge::LOCAL_ROW_ID;
use crate::engine::{ChildSpec, WriteSpec, quote};

/// The rows held for one top table and its children, and the statements that merge them.
pub(super) struct Stage {
    pub(super) spec: WriteSpec,
    /// The tables it writes: the spec's, then its children's.
    pub(super) tables: Vec<String>,
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
    /// Finds the winners that would write their stored row and its children again as they are:
    /// those are left as they are (`Unchanged`). None where that cannot be told exactly (a child
    /// table has columns the writer does not write, which replacing the children empties, or a
    /// table declares a collation).
    pub(super) unchanged: Option<Unchanged>,
    /// The table and its child tables held no rows when the stage began: records with a key
    /// not written before are held here and inserted as they are (`fresh`).
    pub(super) fresh: Option<Fresh>,
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
            tables: written_tables(spec, child_specs),
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
            unchanged: None,
            fresh: None,
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
        // Each child table's declared columns, and the types of those its writer writes.
        let mut child_columns = Vec::new();
        for child in child_specs {
            let declared = table_columns(conn, &child.spec.table)?;
            let types = types_of(&declared, &child.spec.table, &child.spec.columns)?;
            child_columns.push((declared, types));
        }
        let collated = collated(conn, &stage.tables)?;
        stage.unchanged = Unchanged::new(spec, child_specs, &types, &child_columns, collated);
        let shortcut = fresh(conn, &stage, child_specs, &types, &child_columns, collated)?;
        stage.fresh = shortcut;
        Ok(stage)
    }
}

/// The statements that find the winners that would leave their stored row and its children as
/// they are: a `--full` reload of what is stored then deletes and writes nothing (DuckDB keeps
/// about 8 bytes per deleted row until the commit, pinned: 27M rows of a 10M reload are more
/// than the load's memory limit).
pub(super) struct Unchanged {
    /// Reads the replacing winners (their held columns, then the row id they replace) and
    /// returns the record numbers of those equal to their stored row; `{lo}` and `{hi}` are the
    /// row ids' bounds, so that DuckDB reads only the row groups that hold them.
    pub(super) top: String,
    /// Per child table.
    pub(super) children: Vec<ChildCompare>,
}

/// Tells which parents' stored children differ from the held ones, in two steps, so that the
/// child table's rows are read whole only in the row groups that hold the parents' children.
pub(super) struct ChildCompare {
    /// Reads the parents (a batch of top rows) and returns the row ids of their stored children,
    /// each with its parent's record number; a join on the link columns alone.
    pub(super) rowids: String,
    /// Reads those (row id, record number) pairs, then the held children of the parents, and
    /// returns the record numbers of the parents whose children differ; `{lo}` and `{hi}` are
    /// the row ids' bounds.
    pub(super) compare: String,
}

impl Unchanged {
    /// `child_columns`: per child table, its declared columns and the types of its writer's;
    /// `collated`: a table the stage writes declares a collation.
    fn new(
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        types: &[String],
        child_columns: &[ChildColumns],
        collated: bool,
    ) -> Option<Unchanged> {
        if collated {
            return None;
        }
        let width = spec.columns.len();
        let rest: Vec<usize> = (0..width).filter(|i| !spec.key.contains(i)).collect();
        let mut top = format!(
            "SELECT w._weir_seq FROM (SELECT {}{}c{width} AS _weir_seq, c{} AS _weir_old \
             FROM weir_batch(?)) w JOIN {} t ON t.rowid = w._weir_old \
             WHERE t.rowid BETWEEN {{lo}} AND {{hi}}",
            typed(&spec.columns, types, rest.iter().copied()),
            if rest.is_empty() { "" } else { ", " },
            width + 1,
            quote(&spec.table)
        );
        for &i in &rest {
            let c = quote(&spec.columns[i]);
            let (t, w) = (
                as_stored(&types[i], &format!("t.{c}")),
                as_stored(&types[i], &format!("w.{c}")),
            );
            top.push_str(&format!(" AND {t} IS NOT DISTINCT FROM {w}"));
        }
        let mut children = Vec::new();
        for (child, (declared, child_types)) in child_specs.iter().zip(child_columns) {
            let c = &child.spec;
            // A child key that leaves out the link may span parents: the insert's choice among
            // duplicates then depends on the other winners of the batch.
            let linked = child.link.iter().all(|&(l, _)| c.key.contains(&l));
            if declared.iter().any(|(name, _)| !c.columns.contains(name))
                || !(c.key.is_empty() || linked)
            {
                return None;
            }
            let cw = c.columns.len();
            // A batch without children holds its numbers as text.
            let held = format!(
                "SELECT {}, CAST(c{cw} AS BIGINT) AS _weir_seq, CAST(c{} AS BIGINT) AS _weir_row \
                 FROM weir_batch(?)",
                typed(&c.columns, child_types, 0..cw),
                cw + 1
            );
            let compared = |of: &str| -> String {
                c.columns
                    .iter()
                    .zip(child_types)
                    .map(|(n, ty)| {
                        let col = format!("{of}{}", quote(n));
                        format!("{} AS {}", as_stored(ty, &col), quote(n))
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let names = compared("");
            // The held children as the insert keeps them: a later duplicate child key wins. Held
            // and stored children are matched one to one by a join (EXCEPT ALL took five times
            // as long under a load's memory limit): keyed children are distinct already,
            // keyless ones are numbered among their equals.
            let all: Vec<String> = c.columns.iter().map(|n| quote(n)).collect();
            let numbered = |rows: String| -> String {
                format!(
                    "SELECT *, row_number() OVER (PARTITION BY _weir_seq, {}) AS _weir_dup \
                     FROM ({rows})",
                    all.join(", ")
                )
            };
            let held = if c.key.is_empty() {
                numbered(format!("SELECT {names}, _weir_seq FROM ({held})"))
            } else {
                let key: Vec<String> = c.key.iter().map(|&k| quote(&c.columns[k])).collect();
                format!(
                    "SELECT {names}, _weir_seq FROM (SELECT *, row_number() OVER \
                     (PARTITION BY {} ORDER BY _weir_row DESC) AS _weir_rank \
                     FROM ({held})) WHERE _weir_rank = 1",
                    key.join(", ")
                )
            };
            let table = quote(&c.table);
            let rowids = format!(
                "SELECT {table}.rowid, _weir_p._weir_seq FROM {table} JOIN \
                 (SELECT {}, c{width} AS _weir_seq FROM weir_batch(?)) _weir_p ON {}",
                typed(&spec.columns, types, 0..width),
                child.link_condition(spec, "_weir_p"),
            );
            let stored = format!(
                "SELECT {}, _weir_r._weir_seq FROM {table} JOIN _weir_r \
                 ON {table}.rowid = _weir_r._weir_rowid \
                 WHERE {table}.rowid BETWEEN {{lo}} AND {{hi}}",
                compared(&format!("{table}.")),
            );
            let stored = if c.key.is_empty() {
                numbered(stored)
            } else {
                stored
            };
            let mut on: Vec<String> = all
                .iter()
                .map(|n| format!("b.{n} IS NOT DISTINCT FROM s.{n}"))
                .collect();
            if c.key.is_empty() {
                on.push("b._weir_dup = s._weir_dup".into());
            }
            let compare = format!(
                "WITH _weir_r AS MATERIALIZED (SELECT c0 AS _weir_rowid, c1 AS _weir_seq \
                 FROM weir_batch(?)), \
                 _weir_b AS ({held}), _weir_s AS ({stored}) \
                 SELECT DISTINCT coalesce(b._weir_seq, s._weir_seq) FROM _weir_b b \
                 FULL OUTER JOIN _weir_s s ON b._weir_seq = s._weir_seq AND {} \
                 WHERE b._weir_seq IS NULL OR s._weir_seq IS NULL",
                on.join(" AND ")
            );
            children.push(ChildCompare { rowids, compare });
        }
        Some(Unchanged { top, children })
    }
}

/// The shortcut for a table that is new to the load (`fresh`), where it holds exactly: the
/// table and its child tables hold no rows, their keys and links compare as the shortcut hashes
/// them (text or integer columns, no collation), and every child links the whole key by columns
/// of the key's own types, so that a new key has no stored children either.
fn fresh(
    conn: &Connection,
    stage: &Stage,
    child_specs: &[ChildSpec],
    types: &[String],
    child_columns: &[ChildColumns],
    collated: bool,
) -> anyhow::Result<Option<Fresh>> {
    if collated {
        return Ok(None);
    }
    let spec = &stage.spec;
    let Some(kinds) = spec
        .key
        .iter()
        .map(|&k| KeyKind::of(&types[k]))
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(None);
    };
    for (child, (_, child_types)) in child_specs.iter().zip(child_columns) {
        let linked = spec.key.iter().all(|&k| {
            child
                .link
                .iter()
                .any(|&(c, p)| p == k && child_types[c] == types[k])
        });
        if !linked {
            return Ok(None);
        }
    }
    for table in &stage.tables {
        let empty: bool = conn.query_row(
            &format!(
                "SELECT count(*) = 0 FROM (SELECT 1 FROM {} LIMIT 1)",
                quote(table)
            ),
            [],
            |r| r.get(0),
        )?;
        if !empty {
            return Ok(None);
        }
    }
    let widths: Vec<usize> = child_specs
        .iter()
        .map(|c| c.spec.columns.len() + 2)
        .collect();
    Ok(Some(Fresh::new(kinds, spec.columns.len() + 1, &widths)))
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

/// A child table's declared columns (name, type), and the types of the columns its writer
/// writes, in the writer's order.
type ChildColumns = (Vec<(String, String)>, Vec<String>);

/// The tables a writer writes: its own, then its children's.
pub(super) fn written_tables(spec: &WriteSpec, child_specs: &[ChildSpec]) -> Vec<String> {
    std::iter::once(&spec.table)
        .chain(child_specs.iter().map(|c| &c.spec.table))
        .cloned()
        .collect()
}

/// Whether any of `tables` declares a collation: its text then compares equal where it differs.
fn collated(conn: &Connection, tables: &[String]) -> anyhow::Result<bool> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() \
         AND schema_name = 'main' AND table_name = ? AND upper(sql) LIKE '%COLLATE%'",
    )?;
    for table in tables {
        if stmt.query_row([table], |r| r.get::<_, i64>(0))? > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `value` as it is stored, for telling a row written again from its stored copy: reals and
/// intervals compare equal where their stored values differ (`-0.0` and `0.0`, `1 month` and
/// `30 days`), their text does not.
fn as_stored(ty: &str, value: &str) -> String {
    match ty {
        "DOUBLE" | "FLOAT" | "REAL" | "INTERVAL" => format!("CAST({value} AS VARCHAR)"),
        _ => value.to_string(),
    }
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
