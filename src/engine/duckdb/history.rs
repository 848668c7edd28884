//! A history table (`history: true`) that DuckDB keeps itself, folded from each merged batch in
//! place: every record of the batch (winner or not) has its place among the versions of its key,
//! as `engine::history` keeps them on SQLite, whatever order they come in.
//!
//! DuckDB's `UPDATE` of the rows a load wrote pins them in its buffer pool: at about 140,000
//! records under a load's memory limit it ran out. So a stored version whose `valid_to` must
//! change is copied with the new value and the original deleted; only the batch's new versions
//! are inserted, each with its `valid_to` already set. A first load, whose keys are new, copies
//! almost nothing.

use std::sync::Arc;

use anyhow::Context;
use duckdb::Connection;
use duckdb::arrow::array::Int64Array;
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::vtab::arrow::ArrowBatchRegistration;

use super::stage::typed;
use crate::engine::history::{VALID_FROM, VALID_TO, same_key};
use crate::engine::{MergeRefused, WriteSpec, quote};

/// The statements that fold a batch into one writer's history table, built once per load.
/// Each reads the batch in place: its key, version and record number (`keys`, a projection of
/// the held columns), and the whole rows only where they are inserted.
pub(super) struct HistoryFold {
    table: String,
    /// The held columns of `keys`: the writer's key and version, then the record's number.
    keys: Vec<usize>,
    /// Deletes the stored versions the batch repeats (an equal version replaces the stored one).
    delete_repeated: String,
    /// The row ids of the stored versions of the batch's keys whose `valid_to` changes.
    changed: String,
    /// Copies those versions with their new `valid_to`.
    copy_changed: String,
    /// Deletes rows by row id (`c0` of the batch).
    delete_rows: String,
    /// Inserts the batch's last copy of each version with its `valid_to`: reads `keys`, then
    /// the whole rows.
    insert_new: String,
}

impl HistoryFold {
    /// `types`: the writer's columns as the table declares them. None when the writer has no
    /// version.
    pub(super) fn new(spec: &WriteSpec, history: &str, types: &[String]) -> Option<Self> {
        let version = spec.version?;
        let width = spec.columns.len();
        let v = quote(&spec.columns[version]);
        let hist = quote(history);
        let cols: Vec<String> = spec.columns.iter().map(|c| quote(c)).collect();
        let all = cols.join(", ");
        let key: Vec<&str> = spec.key.iter().map(|&k| cols[k].as_str()).collect();
        let keys = key.join(", ");
        let same = |a: &str, b: &str| same_key(&key, a, b);
        let of = |a: &str| -> String {
            key.iter()
                .map(|k| format!("{a}.{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (from, to) = (quote(VALID_FROM), quote(VALID_TO));
        let mut places = spec.key.clone();
        places.push(version);
        let narrow = format!(
            "(SELECT {}, c{width} AS \"weir_seq\" FROM weir_batch(?))",
            typed(&spec.columns, types, places.iter().copied())
        );
        let rows = format!(
            "(SELECT {}, c{width} AS \"weir_seq\" FROM weir_batch(?))",
            typed(&spec.columns, types, 0..width)
        );
        places.push(width);
        // `n`: every version of the batch's keys, stored (with its row id and `valid_to`) or
        // new (with the number of the batch's last copy of it), and the next version's
        // `valid_from`. The batch's keys are read once (`MATERIALIZED`): a batch is a stream.
        let with = format!(
            "WITH k AS MATERIALIZED {narrow}, \
             n AS (SELECT *, lead({from}) OVER (PARTITION BY {keys} ORDER BY {from}) AS \"weir_next\" \
                   FROM (SELECT h.rowid AS \"weir_row\", h.{to} AS \"weir_old_to\", \
                                NULL AS \"weir_seq\", {}, h.{from} \
                         FROM (SELECT DISTINCT {keys} FROM k) AS b JOIN {hist} AS h ON {} \
                         UNION ALL \
                         SELECT NULL, NULL, max(\"weir_seq\"), {keys}, {v} FROM k \
                         WHERE {v} IS NOT NULL GROUP BY {keys}, {v}))",
            of("h"),
            same("h", "b"),
        );
        let changed =
            "n.\"weir_row\" IS NOT NULL AND n.\"weir_old_to\" IS DISTINCT FROM n.\"weir_next\"";
        Some(HistoryFold {
            table: spec.table.clone(),
            keys: places,
            delete_repeated: format!(
                "DELETE FROM {hist} WHERE rowid IN (SELECT h.rowid FROM {narrow} AS s \
                 JOIN {hist} AS h ON {} AND h.{from} = s.{v})",
                same("h", "s")
            ),
            changed: format!("{with} SELECT n.\"weir_row\" FROM n WHERE {changed}"),
            copy_changed: format!(
                "INSERT INTO {hist} {with} SELECT h.* REPLACE (n.\"weir_next\" AS {to}) \
                 FROM {hist} AS h JOIN n ON h.rowid = n.\"weir_row\" WHERE {changed}"
            ),
            delete_rows: format!(
                "DELETE FROM {hist} WHERE rowid IN (SELECT c0 FROM weir_batch(?))"
            ),
            insert_new: format!(
                "INSERT INTO {hist} ({all}, {from}, {to}) {with} \
                 SELECT {}, s.{v}, n.\"weir_next\" FROM {rows} AS s \
                 JOIN n ON s.\"weir_seq\" = n.\"weir_seq\"",
                cols.iter()
                    .map(|c| format!("s.{c}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        })
    }

    /// Folds `batch` (the held rows of one merge) into the history table.
    pub(super) fn apply(&self, conn: &Connection, batch: &RecordBatch) -> anyhow::Result<()> {
        let refused = || MergeRefused(self.table.clone());
        let keys = batch.project(&self.keys)?;
        let run = |sql: &str, batches: &[&RecordBatch]| -> anyhow::Result<usize> {
            let registered: Vec<ArrowBatchRegistration> = batches
                .iter()
                .map(|&b| ArrowBatchRegistration::new(b.clone()))
                .collect();
            conn.prepare_cached(sql)?
                .execute(duckdb::params_from_iter(&registered))
                .with_context(refused)
        };
        run(&self.delete_repeated, &[&keys])?;
        let changed: Int64Array = {
            let registered = ArrowBatchRegistration::new(keys.clone());
            let mut stmt = conn.prepare_cached(&self.changed)?;
            stmt.query_map([&registered], |r| r.get::<_, i64>(0))
                .with_context(refused)?
                .map(|r| r.map(Some))
                .collect::<Result<_, _>>()
                .with_context(refused)?
        };
        if !changed.is_empty() {
            run(&self.copy_changed, &[&keys])?;
            let schema = Schema::new(vec![Field::new("c0", DataType::Int64, true)]);
            let rows = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(changed)])?;
            run(&self.delete_rows, &[&rows])?;
        }
        run(&self.insert_new, &[&keys, batch])?;
        Ok(())
    }
}
