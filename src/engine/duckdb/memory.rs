//! The memory a DuckDB load into a file may take: a limit sized from the widest table it writes
//! (or `WEIR_DUCKDB_MEMORY`), and the one-line error that names the setting when DuckDB runs out.

use anyhow::Context;
use duckdb::Connection;

/// What DuckDB may use while loading into a file, unless `WEIR_DUCKDB_MEMORY` says: at least
/// `MEMORY_FLOOR`, and `MEMORY_PER_COLUMN` for each column of the widest table a load writes (with
/// its child tables), on top of `MEMORY_BASE`. Appending and committing pin about a quarter to a
/// whole MiB per column; the rest of what a load writes spills to the database file, so the
/// memory a load takes does not grow with the data (docs/BENCHMARKS.md has the measurements).
pub(super) const MEMORY_FLOOR: u64 = 32 << 20;
const MEMORY_BASE: u64 = 8 << 20;
const MEMORY_PER_COLUMN: u64 = 5 << 18;

/// The memory a load may take, as DuckDB is told it.
pub(super) struct Limit {
    bytes: u64,
    /// Set by the user: never raised.
    fixed: bool,
}

impl Limit {
    /// The limit a load starts with: the user's, or the floor.
    pub(super) fn new(conn: &Connection, user: Option<u64>) -> anyhow::Result<Limit> {
        let limit = Limit {
            bytes: user.unwrap_or(MEMORY_FLOOR),
            fixed: user.is_some(),
        };
        limit.apply(conn)?;
        Ok(limit)
    }

    fn apply(&self, conn: &Connection) -> anyhow::Result<()> {
        conn.execute_batch(&format!(
            "SET memory_limit = '{}KiB'",
            self.bytes.div_ceil(1024)
        ))
        .context("cannot set DuckDB's memory limit")
    }

    /// Raises the limit (unless the user set it) to what a table of `columns` columns, with its
    /// children, needs.
    pub(super) fn fit(&mut self, conn: &Connection, columns: usize) -> anyhow::Result<()> {
        let need = MEMORY_BASE + MEMORY_PER_COLUMN * columns as u64;
        if !self.fixed && need > self.bytes {
            self.bytes = need;
            self.apply(conn)?;
        }
        Ok(())
    }

    /// `e`, or what it means when DuckDB ran out of the memory the load may use.
    pub(super) fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        let oom = e
            .chain()
            .find_map(|cause| match cause.downcast_ref::<duckdb::Error>() {
                Some(duckdb::Error::DuckDBFailure(_, Some(message))) if out_of_memory(message) => {
                    Some(message.lines().next().unwrap_or_default().to_string())
                }
                _ => None,
            });
        match oom {
            Some(message) => OutOfMemory {
                bytes: self.bytes,
                why: if self.fixed {
                    "WEIR_DUCKDB_MEMORY"
                } else {
                    "sized from the widest table it writes"
                },
                message,
            }
            .into(),
            None => e,
        }
    }
}

/// `128 MiB`.
fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}

/// DuckDB could not get the memory a load needed within its limit.
#[derive(Debug, thiserror::Error)]
#[error(
    "DuckDB needs more than the {} this load may use ({why}); set WEIR_DUCKDB_MEMORY to more, \
     e.g. `WEIR_DUCKDB_MEMORY=1GB` in .env: {message}",
    mib(*.bytes)
)]
pub struct OutOfMemory {
    bytes: u64,
    why: &'static str,
    message: String,
}

/// Whether DuckDB's message says it ran out of memory: its own error class, or a commit that
/// could not get a block.
pub(super) fn out_of_memory(message: &str) -> bool {
    message.starts_with("Out of Memory Error")
        || (message.starts_with("TransactionContext Error: Failed to commit")
            && (message.contains("could not allocate block")
                || message.contains("failed to pin block")))
}
