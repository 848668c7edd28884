//! Keeping a source's history table (`history: true`): every record the writer stores is held
//! here too, superseded or not (a version loaded late still has its place in the history), and
//! folded into `<table>_history` a batch at a time by the engine-neutral statements of
//! `engine::history`, inside the load's transaction: all or nothing with the rest of the load.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::engine::history::HistorySql;
use crate::engine::{Load, Value};
use crate::mapper::Mapper;

/// Records held before they are folded in: as many as DuckDB merges at once, whose set
/// statements each read the table once per batch.
const BATCH: usize = 10_000;

/// Numbers the temporary tables that hold a batch: no two loads in a process share one, so an
/// engine never runs a statement it prepared for an earlier, dropped table.
static NEXT_STAGE: AtomicUsize = AtomicUsize::new(1);

/// What `history: true` costs a load: the records held since the last batch.
pub(super) struct History {
    sql: HistorySql,
    /// Held rows, flat: `sql.width` values each (the writer's columns, then the record's number).
    held: Vec<Value>,
    /// The number of the record in this source's load: the last copy of a version wins.
    seq: i64,
    /// The temporary table is there (made at the first batch, dropped by `finish`).
    staged: bool,
}

impl History {
    pub(super) fn new(mapper: &Mapper) -> Option<Self> {
        let table = mapper.history.as_deref()?;
        let n = NEXT_STAGE.fetch_add(1, Ordering::Relaxed);
        let sql = HistorySql::new(&mapper.spec, table, &format!("weir_history_batch_{n}"))?;
        Some(History {
            sql,
            held: Vec::new(),
            seq: 0,
            staged: false,
        })
    }

    /// Holds a stored record's row; folds the batch in when it is full.
    pub(super) fn hold(&mut self, load: &mut dyn Load, row: &[Value]) -> anyhow::Result<()> {
        self.seq += 1;
        self.held.extend_from_slice(row);
        self.held.push(Value::Integer(self.seq));
        if self.held.len() >= BATCH * self.sql.width {
            self.apply(load)?;
        }
        Ok(())
    }

    /// Folds the held rows into the history table.
    pub(super) fn apply(&mut self, load: &mut dyn Load) -> anyhow::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        if !self.staged {
            load.execute(&self.sql.create, &[])?;
            self.staged = true;
        }
        let many = self.sql.rows_per_insert * self.sql.width;
        let mut chunks = self.held.chunks_exact(many);
        for chunk in &mut chunks {
            load.execute(&self.sql.insert_many, chunk)?;
        }
        for row in chunks.remainder().chunks(self.sql.width) {
            load.execute(&self.sql.insert_one, row)?;
        }
        for sql in &self.sql.apply {
            load.execute(sql, &[])?;
        }
        load.execute(&self.sql.clear, &[])?;
        self.held.clear();
        Ok(())
    }

    /// After a complete source lost keys: their open versions close.
    pub(super) fn close_gone(&mut self, load: &mut dyn Load) -> anyhow::Result<usize> {
        load.execute(&self.sql.close, &[])
    }

    /// Folds in what is held and drops the temporary table.
    pub(super) fn finish(&mut self, load: &mut dyn Load) -> anyhow::Result<()> {
        self.apply(load)?;
        if self.staged {
            load.execute(&self.sql.drop, &[])?;
            self.staged = false;
        }
        Ok(())
    }
}
