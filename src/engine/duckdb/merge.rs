//! One DuckDB load: records are held per writer (`Stage`) and merged in batches by a few set
//! statements per table, keeping SQLite's rule exactly: per key, the held copy with the newest
//! version wins (the latest record among equals, as if applied one by one), and it replaces the
//! stored row only when its version is newer or equal; its children replace the stored set.
//! Nothing is staged in DuckDB tables: a transaction keeps what it writes until the commit, so
//! staging would grow with the load. A history table is folded from the same batches
//! (`history`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anyhow::Context;
use duckdb::Connection;
use duckdb::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array};
use duckdb::arrow::compute::filter_record_batch;
use duckdb::arrow::datatypes::{DataType, Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::vtab::arrow::ArrowBatchRegistration;

use super::fresh::Claim;
use super::from_duckdb;
use super::held::Held;
use super::memory::Limit;
use super::stage::{Stage, written_tables};
use crate::engine::{ChildSpec, Counts, Load, MergeRefused, RowIds, Value, WriteSpec};

/// Records held per table before a merge: bounds the memory they take; a batch amortises the
/// merge's few statements.
const BATCH: usize = 10_000;

/// DuckDB numbers the rows a transaction adds from 2^55 up (`MAX_ROW_ID` in its source) until
/// the commit: a stored row numbered from here was written by this load.
pub(super) const LOCAL_ROW_ID: i64 = 36_028_797_018_960_000;

pub(super) struct DuckLoad<'c> {
    conn: &'c Connection,
    /// Per table, the committed rows this load updated in place (their row ids do not change),
    /// or left as they are because a winner equalled them (`unchanged`).
    updated: HashMap<String, RowIds>,
    /// DuckDB's memory limit for the load, when it writes to a file.
    limit: Option<Limit>,
    stages: Vec<Stage>,
    /// `history: true`: per writer (`WriteSpec::id`), the history table DuckDB keeps for it.
    histories: HashMap<usize, String>,
    /// The number of the record in this load: later records win ties, as in a one-by-one load.
    seq: i64,
    /// The number of the child row in this load: a later duplicate child key wins.
    row: i64,
    counts: Counts,
    /// The transaction is still open: dropping the load rolls it back.
    open: bool,
}

/// The winners of one batch: at most one record per key.
struct Winners {
    /// Their record numbers.
    records: HashSet<i64>,
    /// The row id of the stored row a winner replaces, by record number.
    replacing: HashMap<i64, i64>,
    /// How many winners replace a row written earlier in this load.
    rewritten: usize,
}

impl<'c> DuckLoad<'c> {
    /// Starts the load's transaction. A load into a file keeps to a small buffer pool and spills
    /// the rest of what it writes to the file; a database in memory has nowhere to spill.
    pub(super) fn begin(
        conn: &'c Connection,
        into_file: bool,
        memory: Option<u64>,
    ) -> anyhow::Result<Self> {
        let limit = if into_file {
            Some(Limit::new(conn, memory)?)
        } else {
            None
        };
        // The bundled DuckDB's join filters (a bloom filter pushed into a table scan) corrupt
        // its heap on a load's statements (`free(): invalid next size` in
        // `BloomFilterExecutor::FilterSelection`, on a DELETE by row id of stored rows): a load
        // plans without them.
        conn.execute_batch("SET disabled_optimizers = 'join_filter_pushdown'")
            .context("cannot set DuckDB's optimizers")?;
        conn.execute_batch("BEGIN TRANSACTION")
            .context("cannot start a transaction")?;
        Ok(DuckLoad {
            conn,
            updated: HashMap::new(),
            limit,
            stages: Vec::new(),
            histories: HashMap::new(),
            seq: 0,
            row: 0,
            counts: Counts::default(),
            open: true,
        })
    }

    fn stage(&mut self, spec: &WriteSpec, child_specs: &[ChildSpec]) -> anyhow::Result<usize> {
        if let Some(i) = self.stages.iter().position(|s| s.spec.id == spec.id) {
            return Ok(i);
        }
        // A table another writer of this load writes too is no longer new to either: the
        // shortcut knows only its own writer's keys.
        let mine = written_tables(spec, child_specs);
        let shared: Vec<usize> = (0..self.stages.len())
            .filter(|&j| self.stages[j].tables.iter().any(|t| mine.contains(t)))
            .collect();
        for &j in &shared {
            self.end_fresh(j)?;
        }
        let history = self.histories.get(&spec.id).map(String::as_str);
        let mut stage = Stage::new(self.conn, spec, child_specs, history)?;
        if !shared.is_empty() {
            stage.fresh = None;
        }
        if let Some(limit) = &mut self.limit {
            let columns = stage.top.width() + stage.children.iter().map(Held::width).sum::<usize>();
            limit.fit(self.conn, columns)?;
        }
        self.stages.push(stage);
        Ok(self.stages.len() - 1)
    }

    /// `e`, or what it means when DuckDB ran out of the memory the load may use.
    fn explained(&self, e: anyhow::Error) -> anyhow::Error {
        match &self.limit {
            Some(limit) => limit.explain(e),
            None => e,
        }
    }

    /// Inserts the records held as new to their table (`fresh`), with their children.
    fn insert_fresh(&mut self, i: usize) -> anyhow::Result<()> {
        let stage = &mut self.stages[i];
        let Some(fresh) = &mut stage.fresh else {
            return Ok(());
        };
        let pending = fresh.top.len();
        if pending == 0 {
            return Ok(());
        }
        let (top, children) = take(&mut fresh.top, &mut fresh.children);
        let stage = &self.stages[i];
        run(self.conn, &stage.spec.table, &stage.insert_sql, top.clone())?;
        insert_children(self.conn, stage, children, None)?;
        if let Some(history) = &stage.history {
            history.apply(self.conn, &top)?;
        }
        self.counts.written += pending;
        Ok(())
    }

    /// Ends the shortcut of a stage: what it holds is inserted, and every later record of the
    /// stage takes the merge.
    fn end_fresh(&mut self, i: usize) -> anyhow::Result<()> {
        self.insert_fresh(i)?;
        self.stages[i].fresh = None;
        Ok(())
    }

    /// Merges the rows held for one top table into the tables; nothing is held afterwards. The
    /// records held as new go first: a merged record may replace one of them.
    fn merge(&mut self, i: usize) -> anyhow::Result<()> {
        self.insert_fresh(i)?;
        let stage = &mut self.stages[i];
        let pending = stage.top.len();
        if pending == 0 {
            return Ok(());
        }
        let (top, children) = take(&mut stage.top, &mut stage.children);
        let stage = &self.stages[i];
        let table = &stage.spec.table;
        let mut winners = pick_winners(self.conn, stage, &top, self.updated.get(table))?;
        // The counts as picked: a winner left as it is below still counts as written.
        let (written, rewritten) = (winners.records.len(), winners.rewritten);
        let same = unchanged(self.conn, stage, &top, &children, &winners)?;
        if !same.is_empty() {
            // Left as they are, they count as rewritten in place: a later winner replacing one
            // supersedes its record.
            let ids = self.updated.entry(table.clone()).or_default();
            for seq in &same {
                winners.records.remove(seq);
                if let Some(rowid) = winners.replacing.remove(seq) {
                    ids.insert(rowid);
                }
            }
        }
        if !winners.records.is_empty() {
            let updated = write_winners(self.conn, stage, &top, &winners)?;
            if !updated.is_empty() {
                let ids = self.updated.entry(table.clone()).or_default();
                for id in updated {
                    ids.insert(id);
                }
            }
            insert_children(self.conn, stage, children, Some(&winners.records))?;
        }
        // Every record has its place in the history, superseded or not.
        if let Some(history) = &stage.history {
            history.apply(self.conn, &top)?;
        }
        // A winner that replaced a row written earlier in this load supersedes that record:
        // the counts are final outcomes, as on SQLite.
        self.counts.written += written - rewritten;
        self.counts.superseded += pending - written + rewritten;
        Ok(())
    }

    /// Holds a record's row and its children's; merges when a batch is full.
    fn hold(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        let i = self.stage(spec, child_specs)?;
        self.seq += 1;
        let seq = Value::Integer(self.seq);
        let stage = &mut self.stages[i];
        let claim = stage.fresh.as_mut().map(|f| f.claim(&spec.key, row));
        if claim == Some(Claim::Unknown) {
            self.end_fresh(i)?;
        }
        let stage = &mut self.stages[i];
        let (top, held) = match &mut stage.fresh {
            Some(fresh) if claim == Some(Claim::New) => (&mut fresh.top, &mut fresh.children),
            _ => (&mut stage.top, &mut stage.children),
        };
        top.push(row.iter().chain([&seq]));
        for (held, rows) in held.iter_mut().zip(children) {
            for r in rows {
                self.row += 1;
                held.push(r.iter().chain([&seq, &Value::Integer(self.row)]));
            }
        }
        if top.len() >= BATCH {
            if claim == Some(Claim::New) {
                self.insert_fresh(i)?;
            } else {
                self.merge(i)?;
            }
        }
        Ok(())
    }

    fn retain_keys(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.merge_all()?;
        let sql = crate::engine::retain_sql(spec, child_specs);
        self.conn.execute_batch(&sql.create)?;
        {
            // Complete sources are hand-written and small: one INSERT per key is fine here.
            let mut insert = self.conn.prepare(&sql.insert)?;
            for k in keys {
                insert.execute(duckdb::params_from_iter(k))?;
            }
        }
        let removed = sql.delete_with(|delete| Ok(self.conn.execute(delete, [])?))?;
        self.conn.execute_batch(&sql.drop)?;
        // A key gone from the source closes its open version (docs/MAPPERS.md, History tables).
        if removed > 0
            && let Some(history) = self.histories.get(&spec.id)
            && let Some(close) = crate::engine::history::close_sql(spec, history)
        {
            self.conn.execute(&close, [])?;
        }
        Ok(removed)
    }

    fn merge_all(&mut self) -> anyhow::Result<Counts> {
        for i in 0..self.stages.len() {
            self.merge(i)?;
        }
        Ok(std::mem::take(&mut self.counts))
    }

    fn execute_bookkeeping(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .execute(duckdb::params_from_iter(params))?)
    }

    fn select_bookkeeping(
        &mut self,
        sql: &str,
        params: &[Value],
    ) -> anyhow::Result<Vec<Vec<Value>>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(params))?;
        let n = rows.as_ref().map_or(0, |s| s.column_count());
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_duckdb(row.get_ref(i)?).map_err(anyhow::Error::msg)?);
            }
            out.push(values);
        }
        Ok(out)
    }

    fn merge_and_commit(&mut self) -> anyhow::Result<()> {
        self.merge_all()?;
        self.conn
            .execute_batch("COMMIT")
            .context("cannot commit the load")?;
        self.open = false;
        Ok(())
    }
}

/// Runs one of a stage's statements over `batch`; a refusal names the table.
fn run(conn: &Connection, table: &str, sql: &str, batch: RecordBatch) -> anyhow::Result<usize> {
    let batch = ArrowBatchRegistration::new(batch);
    conn.prepare_cached(sql)?
        .execute([&batch])
        .with_context(|| MergeRefused(table.to_string()))
}

/// The batch's winners, by the stage's winners statement; `updated` holds the committed rows
/// this load updated in place (a winner replacing one rewrites a row of this load).
fn pick_winners(
    conn: &Connection,
    stage: &Stage,
    top: &RecordBatch,
    updated: Option<&RowIds>,
) -> anyhow::Result<Winners> {
    let table = &stage.spec.table;
    let refused = || MergeRefused(table.clone());
    let probe = ArrowBatchRegistration::new(top.project(&stage.probe)?);
    let mut winners = Winners {
        records: HashSet::with_capacity(top.num_rows()),
        replacing: HashMap::new(),
        rewritten: 0,
    };
    let mut stmt = conn.prepare_cached(&stage.winners_sql)?;
    let mut rows = stmt.query([&probe]).with_context(refused)?;
    while let Some(row) = rows.next().with_context(refused)? {
        let seq = row.get::<_, i64>(0)?;
        if !winners.records.insert(seq) {
            // Only rows written outside weir can repeat a key: no index refuses them.
            return Err(anyhow::anyhow!(
                "the table holds more than one row with the key of a record loaded now; \
                 remove the extra rows (weir's DuckDB tables have no index to refuse them)"
            )
            .context(refused()));
        }
        let rowid = row.get::<_, Option<i64>>(1)?;
        if let Some(rowid) = rowid {
            winners.replacing.insert(seq, rowid);
        }
        // The stored row was written by this load: inserted (a transaction-local row id), or
        // updated in place.
        let ours =
            row.get::<_, bool>(2)? || rowid.is_some_and(|r| updated.is_some_and(|u| u.contains(r)));
        winners.rewritten += usize::from(ours);
    }
    Ok(winners)
}

/// The committed rows a batch's unchanged winners may replace lie within this many row ids of
/// each other, or they are written again: DuckDB reads every row group between the bounds.
const UNCHANGED_SPAN: i64 = 1 << 21;

/// The record numbers of the winners that would replace a committed row with the row as it is
/// stored, and its stored children with the same children (`Unchanged`).
fn unchanged(
    conn: &Connection,
    stage: &Stage,
    top: &RecordBatch,
    children: &[RecordBatch],
    winners: &Winners,
) -> anyhow::Result<HashSet<i64>> {
    let mut same = HashSet::new();
    let Some(sql) = &stage.unchanged else {
        return Ok(same);
    };
    let committed: HashMap<i64, i64> = winners
        .replacing
        .iter()
        .filter(|&(_, &rowid)| rowid < LOCAL_ROW_ID)
        .map(|(&seq, &rowid)| (seq, rowid))
        .collect();
    let (Some(&lo), Some(&hi)) = (committed.values().min(), committed.values().max()) else {
        return Ok(same);
    };
    if hi - lo > UNCHANGED_SPAN {
        return Ok(same);
    }
    let table = &stage.spec.table;
    let refused = || MergeRefused(table.clone());
    let width = stage.spec.columns.len();
    let seqs: HashSet<i64> = committed.keys().copied().collect();
    let old = filter_record_batch(top, &winning(top, width, &seqs))?;
    let (old, _) = with_row_ids(&old, width, &committed)?;
    let top_sql = sql
        .top
        .replace("{lo}", &lo.to_string())
        .replace("{hi}", &hi.to_string());
    let mut stmt = conn.prepare(&top_sql).with_context(refused)?;
    let mut rows = stmt
        .query([&ArrowBatchRegistration::new(old.clone())])
        .with_context(refused)?;
    while let Some(row) = rows.next().with_context(refused)? {
        same.insert(row.get::<_, i64>(0)?);
    }
    for (held, sql) in children.iter().zip(&sql.children) {
        if same.is_empty() {
            break;
        }
        let parents = filter_record_batch(&old, &winning(&old, width, &same))?;
        let (mut rowids, mut seqs) = (Vec::new(), Vec::new());
        {
            let mut stmt = conn.prepare_cached(&sql.rowids).with_context(refused)?;
            let mut rows = stmt
                .query([&ArrowBatchRegistration::new(parents)])
                .with_context(refused)?;
            while let Some(row) = rows.next().with_context(refused)? {
                rowids.push(row.get::<_, i64>(0)?);
                seqs.push(row.get::<_, i64>(1)?);
            }
        }
        let (lo, hi) = match (rowids.iter().min(), rowids.iter().max()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            // No stored children: the bounds hold none.
            _ => (0, -1),
        };
        if hi - lo > UNCHANGED_SPAN {
            same.clear();
            break;
        }
        // A batch without children is empty as it is (and holds its numbers as text).
        let kids = match held.num_rows() {
            0 => held.clone(),
            _ => filter_record_batch(held, &winning(held, held.num_columns() - 2, &same))?,
        };
        let stored = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("c0", DataType::Int64, false),
                Field::new("c1", DataType::Int64, false),
            ])),
            vec![
                Arc::new(Int64Array::from(rowids)),
                Arc::new(Int64Array::from(seqs)),
            ],
        )?;
        let compare = sql
            .compare
            .replace("{lo}", &lo.to_string())
            .replace("{hi}", &hi.to_string());
        let mut stmt = conn.prepare(&compare).with_context(refused)?;
        let mut rows = stmt
            .query([
                &ArrowBatchRegistration::new(stored),
                &ArrowBatchRegistration::new(kids),
            ])
            .with_context(refused)?;
        while let Some(row) = rows.next().with_context(refused)? {
            same.remove(&row.get::<_, i64>(0)?);
        }
    }
    Ok(same)
}

/// Writes the winning top rows: new ones inserted, replacing ones in place of the stored row
/// (deleted and inserted, or updated where the table has columns the writer leaves to others).
/// Every winner's stored children go first: a new parent may still find children stored under
/// its key (its table rebuilt alone, say), and its set replaces them. Returns the committed rows
/// it updated in place.
fn write_winners(
    conn: &Connection,
    stage: &Stage,
    top: &RecordBatch,
    winners: &Winners,
) -> anyhow::Result<Vec<i64>> {
    let table = &stage.spec.table;
    let width = stage.spec.columns.len();
    let top = filter_record_batch(top, &winning(top, width, &winners.records))?;
    for sql in &stage.delete_children_sql {
        run(conn, table, sql, top.clone())?;
    }
    let replaced: HashSet<i64> = winners.replacing.keys().copied().collect();
    let old = filter_record_batch(&top, &winning(&top, width, &replaced))?;
    if old.num_rows() == 0 {
        run(conn, table, &stage.insert_sql, top)?;
        return Ok(Vec::new());
    }
    let (old, rowids) = with_row_ids(&old, width, &winners.replacing)?;
    if !stage.keeps_rest {
        run(conn, table, &stage.delete_sql, old)?;
        run(conn, table, &stage.insert_sql, top)?;
        return Ok(Vec::new());
    }
    if !stage.update_sql.is_empty() {
        run(conn, table, &stage.update_sql, old)?;
    }
    let fresh: HashSet<i64> = winners.records.difference(&replaced).copied().collect();
    let fresh = filter_record_batch(&top, &winning(&top, width, &fresh))?;
    if fresh.num_rows() > 0 {
        run(conn, table, &stage.insert_sql, fresh)?;
    }
    // A row this load inserted keeps a transaction-local row id, known anyway.
    Ok(rowids
        .iter()
        .flatten()
        .filter(|&r| r < LOCAL_ROW_ID)
        .collect())
}

/// `old` with the row id of the stored row each replaces as a column after the held ones.
fn with_row_ids(
    old: &RecordBatch,
    width: usize,
    replacing: &HashMap<i64, i64>,
) -> anyhow::Result<(RecordBatch, Int64Array)> {
    let rowids: Int64Array = record_numbers(old, width)
        .iter()
        .map(|s| s.and_then(|s| replacing.get(&s).copied()))
        .collect();
    let mut fields: Vec<Field> = old
        .schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(format!("c{}", width + 1), DataType::Int64, true));
    let mut columns: Vec<ArrayRef> = old.columns().to_vec();
    columns.push(Arc::new(rowids.clone()));
    Ok((
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
        rowids,
    ))
}

/// The held rows of a top table and its children as record batches; nothing is held afterwards.
fn take(top: &mut Held, children: &mut [Held]) -> (RecordBatch, Vec<RecordBatch>) {
    (top.take(), children.iter_mut().map(Held::take).collect())
}

/// Inserts the held child rows of the winners (of every record held, with `None`).
fn insert_children(
    conn: &Connection,
    stage: &Stage,
    children: Vec<RecordBatch>,
    winners: Option<&HashSet<i64>>,
) -> anyhow::Result<()> {
    for (batch, sql) in children.into_iter().zip(&stage.insert_children_sql) {
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = match winners {
            Some(winners) => {
                let seq = batch.num_columns() - 2;
                filter_record_batch(&batch, &winning(&batch, seq, winners))?
            }
            None => batch,
        };
        if batch.num_rows() > 0 {
            run(conn, &stage.spec.table, sql, batch)?;
        }
    }
    Ok(())
}

/// Column `i` of `batch`, which holds record numbers (or row ids).
fn record_numbers(batch: &RecordBatch, i: usize) -> &Int64Array {
    batch
        .column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("record numbers are integers")
}

/// Which rows of `batch` belong to a winning record: its column `seq` holds record numbers.
fn winning(batch: &RecordBatch, seq: usize, winners: &HashSet<i64>) -> BooleanArray {
    record_numbers(batch, seq)
        .iter()
        .map(|s| Some(s.is_some_and(|s| winners.contains(&s))))
        .collect()
}

/// The load's work, with DuckDB's running out of memory explained.
impl Load for DuckLoad<'_> {
    fn write(
        &mut self,
        spec: &WriteSpec,
        row: &[Value],
        child_specs: &[ChildSpec],
        children: &[Vec<Vec<Value>>],
    ) -> anyhow::Result<()> {
        self.hold(spec, row, child_specs, children)
            .map_err(|e| self.explained(e))
    }

    fn retain(
        &mut self,
        spec: &WriteSpec,
        child_specs: &[ChildSpec],
        keys: &[Vec<Value>],
    ) -> anyhow::Result<usize> {
        self.retain_keys(spec, child_specs, keys)
            .map_err(|e| self.explained(e))
    }

    fn flush(&mut self) -> anyhow::Result<Counts> {
        self.merge_all().map_err(|e| self.explained(e))
    }

    fn keep_history(&mut self, spec: &WriteSpec, history: &str) -> anyhow::Result<bool> {
        anyhow::ensure!(
            !self.stages.iter().any(|s| s.spec.id == spec.id),
            "history is kept from a writer's first record"
        );
        self.histories.insert(spec.id, history.to_string());
        Ok(true)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<usize> {
        self.execute_bookkeeping(sql, params)
            .map_err(|e| self.explained(e))
    }

    fn select(&mut self, sql: &str, params: &[Value]) -> anyhow::Result<Vec<Vec<Value>>> {
        self.select_bookkeeping(sql, params)
            .map_err(|e| self.explained(e))
    }

    fn commit(mut self: Box<Self>) -> anyhow::Result<()> {
        self.merge_and_commit().map_err(|e| self.explained(e))
    }
}

impl Drop for DuckLoad<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an unfinished load may remain; a failed rollback leaves the
            // transaction to be discarded with the connection.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let _ = self.conn.execute_batch("RESET disabled_optimizers");
        if self.limit.is_some() {
            // What runs next on the connection (rebuilding tables, say) is not a load; failing
            // to lift the limit leaves a tighter one, never a wrong result.
            let _ = self.conn.execute_batch("RESET memory_limit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DuckLoad;
    use crate::engine::history::{HistorySql, history_table_sql};
    use crate::engine::{ChildSpec, DuckDb, Engine, Load, Sqlite, Table, Value, WriteSpec};

    const SCHEMA: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, n BIGINT);\n\
                          CREATE TABLE c (id BIGINT, k BIGINT, n BIGINT, PRIMARY KEY (id, k));";

    fn specs() -> (WriteSpec, Vec<ChildSpec>) {
        let spec = WriteSpec {
            id: 1,
            table: "t".into(),
            columns: vec!["id".into(), "v".into(), "n".into()],
            key: vec![0],
            version: Some(1),
        };
        let child = ChildSpec {
            spec: WriteSpec {
                id: 2,
                table: "c".into(),
                columns: vec!["id".into(), "k".into(), "n".into()],
                key: vec![0, 1],
                version: None,
            },
            link: vec![(0, 0)],
        };
        (spec, vec![child])
    }

    fn create(engine: &mut dyn Engine) {
        let tables = engine.declared_tables(SCHEMA).unwrap();
        let t = tables[0].clone();
        let ddl = history_table_sql(&t, t.column("v").unwrap());
        let all = engine
            .declared_tables(&format!("{SCHEMA}\n{ddl};"))
            .unwrap();
        let create: Vec<&Table> = all.iter().collect();
        engine.apply_schema(&[], &create).unwrap();
    }

    /// Record `i`: keys repeat, versions tie and go back, some have none; 0 to 2 children.
    fn record(i: i64) -> (Vec<Value>, Vec<Vec<Vec<Value>>>) {
        let v = if i % 97 == 0 {
            Value::Null
        } else {
            Value::Integer((i * 7_919) % 50)
        };
        let id = Value::Integer(i % 9_973);
        let kids = (0..i % 3)
            .map(|k| vec![id.clone(), Value::Integer((i + k) % 4), Value::Integer(i)])
            .collect();
        (vec![id, v, Value::Integer(i)], vec![kids])
    }

    fn dump(load: &mut dyn Load) -> Vec<Vec<Vec<Value>>> {
        [
            "SELECT id, v, n FROM t ORDER BY id",
            "SELECT id, k, n FROM c ORDER BY id, k",
            "SELECT id, v, n, valid_from, valid_to FROM t_history ORDER BY id, valid_from",
        ]
        .iter()
        .map(|sql| load.select(sql, &[]).unwrap())
        .collect()
    }

    /// A reload over stored rows leaves a row whose winner equals it, children and all, as it
    /// is, and replaces the others: a changed row, changed or fewer children, a duplicate child
    /// key that resolves to the stored child, a batch without children over stored ones, and
    /// (children without a key) a child held once that is stored twice. The result is SQLite's,
    /// counts included.
    #[test]
    fn a_reload_leaves_equal_rows_as_they_are_and_replaces_the_rest() {
        const KEYLESS: &str = "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, n BIGINT);\n\
                               CREATE TABLE c (id BIGINT, k BIGINT, n BIGINT);\n\
                               CREATE INDEX c_by_id ON c (id);";
        for keyed in [true, false] {
            let (spec, mut children) = specs();
            if !keyed {
                children[0].spec.key.clear();
            }
            let record = |i: i64, reload: bool| {
                let id = Value::Integer(i);
                let mut n = i;
                let mut kids: Vec<Vec<Value>> = (0..i % 3)
                    .map(|k| vec![id.clone(), Value::Integer(k), Value::Integer(i)])
                    .collect();
                // A child twice: one child where it has a key (the later wins), two where it has
                // none; the reload has it once for some of them.
                if i % 7 == 0 && !kids.is_empty() && !(reload && i % 5 == 0) {
                    kids.push(kids[0].clone());
                }
                match (reload, i % 5) {
                    // The last batch of the reload holds no children at all.
                    (true, _) if i >= 20_000 => kids.clear(),
                    (true, 1) => n += 1,
                    (true, 2) if !kids.is_empty() => kids[0][2] = Value::Integer(-1),
                    (true, 3) => {
                        kids.pop();
                    }
                    (true, 4) => {
                        kids.insert(0, vec![id.clone(), Value::Integer(0), Value::Integer(7)])
                    }
                    _ => {}
                }
                (vec![id, Value::Integer(1), Value::Integer(n)], vec![kids])
            };
            let dir = tempfile::tempdir().unwrap();
            let mut duck = DuckDb::open(Some(&dir.path().join("t.duckdb")), false).unwrap();
            let mut lite = Sqlite::in_memory().unwrap();
            let mut got = Vec::new();
            let mut rowids = Vec::new();
            for engine in [&mut duck as &mut dyn Engine, &mut lite] {
                if keyed {
                    create(engine);
                } else {
                    let tables = engine.declared_tables(KEYLESS).unwrap();
                    engine
                        .apply_schema(&[], &tables.iter().collect::<Vec<_>>())
                        .unwrap();
                }
                let mut out = Vec::new();
                for reload in [false, true] {
                    let mut load = engine.begin_load().unwrap();
                    // DuckDB's row ids before and after the reload.
                    let rowids_now = |load: &mut dyn Load| {
                        load.select("SELECT rowid FROM t ORDER BY id", &[]).unwrap()
                    };
                    if reload && rowids.is_empty() {
                        rowids.push(rowids_now(load.as_mut()));
                    }
                    for i in 0..25_000 {
                        let (row, kids) = record(i, reload);
                        load.write(&spec, &row, &children, &kids).unwrap();
                    }
                    out.push(load.flush().unwrap());
                    if reload && rowids.len() == 1 {
                        rowids.push(rowids_now(load.as_mut()));
                    }
                    load.commit().unwrap();
                }
                let mut load = engine.begin_load().unwrap();
                let rows: Vec<_> = [
                    "SELECT id, v, n FROM t ORDER BY id",
                    "SELECT id, k, n FROM c ORDER BY id, k",
                ]
                .iter()
                .map(|sql| load.select(sql, &[]).unwrap())
                .collect();
                got.push((out, rows));
            }
            assert_eq!(got[0].0, got[1].0, "counts, keyed: {keyed}");
            assert_eq!(got[0].1[0].len(), 25_000);
            // On DuckDB an equal row kept its place; a changed one was written again.
            for (i, (before, after)) in rowids[0].iter().zip(&rowids[1]).enumerate().take(20_000) {
                match i % 5 {
                    0 if keyed || i % 7 != 0 => assert_eq!(before, after, "row {i}"),
                    1 => assert_ne!(before, after, "row {i}"),
                    _ => {}
                }
            }
            assert!(
                got[0].1 == got[1].1,
                "rows differ from SQLite's, keyed: {keyed}"
            );
        }
    }

    /// A table new to the load takes the shortcut (`fresh`): a key written once is inserted as
    /// it is, a repeated one merged. Text keys come as text and as numbers (one key to both
    /// engines), and the shortcut ends halfway where a key cannot be hashed (a real) or a second
    /// writer starts on the table: the rows, children and counts are SQLite's in every case.
    #[test]
    fn a_table_new_to_the_load_stores_what_sqlite_stores() {
        const TEXT_KEYS: &str = "CREATE TABLE s (id VARCHAR PRIMARY KEY, v BIGINT, n BIGINT);\n\
            CREATE TABLE sc (id VARCHAR, k BIGINT, n BIGINT, PRIMARY KEY (id, k));";
        let (mut spec, mut children) = specs();
        spec.table = "s".into();
        children[0].spec.table = "sc".into();
        let other = WriteSpec {
            id: 3,
            ..spec.clone()
        };
        let key = |i: i64| match i % 3 {
            0 => Value::Integer(i % 7_919),
            _ => Value::Text((i % 7_919).to_string()),
        };
        for case in ["plain", "a real key", "a second writer"] {
            let feed = |load: &mut dyn Load| {
                for i in 0..30_000 {
                    let (mut row, mut kids) = record(i);
                    row[0] = if case == "a real key" && i == 15_000 {
                        Value::Real(0.5)
                    } else {
                        key(i)
                    };
                    for kid in &mut kids[0] {
                        kid[0] = row[0].clone();
                    }
                    let writer = if case == "a second writer" && i >= 15_000 && i % 2 == 0 {
                        &other
                    } else {
                        &spec
                    };
                    load.write(writer, &row, &children, &kids).unwrap();
                }
                let counts = load.flush().unwrap();
                let rows: Vec<_> = [
                    "SELECT id, v, n FROM s ORDER BY id",
                    "SELECT id, k, n FROM sc ORDER BY id, k",
                ]
                .iter()
                .map(|sql| load.select(sql, &[]).unwrap())
                .collect();
                (counts, rows)
            };
            let dir = tempfile::tempdir().unwrap();
            let mut duck = DuckDb::open(Some(&dir.path().join("t.duckdb")), false).unwrap();
            let mut lite = Sqlite::in_memory().unwrap();
            let mut got = Vec::new();
            for engine in [&mut duck as &mut dyn Engine, &mut lite] {
                let tables = engine.declared_tables(TEXT_KEYS).unwrap();
                engine
                    .apply_schema(&[], &tables.iter().collect::<Vec<_>>())
                    .unwrap();
            }
            {
                let mut load = DuckLoad::begin(&duck.conn, true, None).unwrap();
                got.push(feed(&mut load));
                // The shortcut took the plain load to its end, and ended in the others.
                assert_eq!(load.stages[0].fresh.is_some(), case == "plain", "{case}");
                Box::new(load).commit().unwrap();
            }
            let mut load = lite.begin_load().unwrap();
            got.push(feed(load.as_mut()));
            load.commit().unwrap();
            assert!(
                got[0].1[0].len() > 7_000 && got[0].1[1].len() > 7_000,
                "{case}"
            );
            assert_eq!(got[0].0, got[1].0, "counts, {case}");
            assert!(got[0].1 == got[1].1, "rows differ from SQLite's, {case}");
        }
    }

    /// A load of many batches stores what SQLite's row-by-row load does, and the history DuckDB
    /// folds itself is the one SQLite's per-batch statements keep, over an empty table and a
    /// loaded one.
    #[test]
    fn batches_and_their_history_match_sqlite_row_by_row() {
        let (spec, children) = specs();
        let dir = tempfile::tempdir().unwrap();
        let mut duck = DuckDb::open(Some(&dir.path().join("t.duckdb")), false).unwrap();
        let mut lite = Sqlite::in_memory().unwrap();
        create(&mut duck);
        create(&mut lite);
        for (n, records) in [(0..30_000), (20_000..50_000)].into_iter().enumerate() {
            let mut load = duck.begin_load().unwrap();
            assert!(load.keep_history(&spec, "t_history").unwrap());
            for i in records.clone() {
                let (row, kids) = record(i);
                load.write(&spec, &row, &children, &kids).unwrap();
            }
            let duck_counts = load.flush().unwrap();
            load.commit().unwrap();

            let mut load = lite.begin_load().unwrap();
            let history =
                HistorySql::new(&spec, "t_history", &format!("weir_test_history_{n}")).unwrap();
            load.execute(&history.create, &[]).unwrap();
            for (seq, i) in records.enumerate() {
                let (row, kids) = record(i);
                load.write(&spec, &row, &children, &kids).unwrap();
                let mut staged = row.clone();
                staged.push(Value::Integer(seq as i64));
                load.execute(&history.insert_one, &staged).unwrap();
                if seq % 10_000 == 9_999 {
                    for sql in history.apply.iter().chain([&history.clear]) {
                        load.execute(sql, &[]).unwrap();
                    }
                }
            }
            for sql in history.apply.iter().chain([&history.clear, &history.drop]) {
                load.execute(sql, &[]).unwrap();
            }
            let lite_counts = load.flush().unwrap();
            assert_eq!(duck_counts, lite_counts, "load {n}");
            let want = dump(load.as_mut());
            load.commit().unwrap();

            let mut load = duck.begin_load().unwrap();
            let got = dump(load.as_mut());
            for (table, (got, want)) in ["t", "c", "t_history"].iter().zip(got.iter().zip(&want)) {
                assert!(!want.is_empty(), "{table} in load {n}");
                assert!(got == want, "{table} differs from SQLite in load {n}");
            }
        }
    }
}
