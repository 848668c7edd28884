//! One table into an export folder: its rows in key order as CSV (`super::csv`), hashed as they
//! are written, and with `--parquet` the same rows as Parquet where the engine can write it.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;

use super::manifest::{self, ColumnEntry, FileEntry, Hashing, TableEntry};
use super::privacy;
use crate::engine::{Engine, QueryError, RowSink, Table, Value, quote};
use crate::error::{Diagnostic, Error, Result};

/// `SELECT` of every column in table order, rows in key order and then by the other columns,
/// NULL first: one order on every engine, so the bytes are the same.
pub fn select_sql(table: &Table) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let key = table.primary_key();
    let order: Vec<String> = key
        .iter()
        .copied()
        .chain(
            table
                .columns
                .iter()
                .map(|c| c.name.as_str())
                .filter(|c| !key.contains(c)),
        )
        .map(|c| format!("{} ASC NULLS FIRST", quote(c)))
        .collect();
    format!(
        "SELECT {} FROM {} ORDER BY {}",
        columns.join(", "),
        quote(&table.name),
        order.join(", ")
    )
}

struct CsvSink<W: Write> {
    out: W,
    line: Vec<u8>,
    cell: String,
    rows: u64,
}

impl<W: Write> RowSink for CsvSink<W> {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        self.line.clear();
        super::csv::header(&names, &mut self.line);
        self.out.write_all(&self.line)?;
        Ok(())
    }

    fn row(&mut self, values: &[Value]) -> anyhow::Result<()> {
        self.line.clear();
        super::csv::row(values, &mut self.cell, &mut self.line);
        self.out.write_all(&self.line)?;
        self.rows += 1;
        Ok(())
    }
}

/// Writes `table` into `dir`; returns its manifest entry.
pub fn table(
    engine: &dyn Engine,
    table: &Table,
    dir: &Path,
    private: &privacy::Columns,
    parquet: bool,
) -> Result<TableEntry> {
    let sql = select_sql(table);
    let file = format!("{}.csv", table.name);
    let path = dir.join(&file);
    let created = std::fs::File::create(&path).with_context(|| format!("cannot write `{file}`"))?;
    let mut sink = CsvSink {
        out: Hashing::new(BufWriter::new(created)),
        line: Vec::new(),
        cell: String::new(),
        rows: 0,
    };
    engine
        .query(&sql, &mut sink)
        .map_err(|e| query_error(e, &table.name, &file))?;
    let (out, bytes, sha256) = sink.out.finish();
    out.into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))
        .and_then(|f| Ok(f.sync_all()?))
        .with_context(|| format!("cannot write `{file}`"))?;
    let parquet = if parquet {
        let file = format!("{}.parquet", table.name);
        let path = dir.join(&file);
        engine
            .write_parquet(&sql, &path)
            .map_err(|e| query_error(e, &table.name, &file))?;
        let (bytes, sha256) =
            manifest::hash_file(&path).with_context(|| format!("cannot read `{file}`"))?;
        Some(FileEntry {
            file,
            bytes,
            sha256,
        })
    } else {
        None
    };
    // The mappers name columns in their own order; the manifest lists them in the table's.
    let in_table_order = |names: &[String]| -> Vec<String> {
        table
            .columns
            .iter()
            .filter(|c| names.contains(&c.name))
            .map(|c| c.name.clone())
            .collect()
    };
    Ok(TableEntry {
        name: table.name.clone(),
        file,
        rows: sink.rows,
        bytes,
        sha256,
        columns: table
            .columns
            .iter()
            .map(|c| ColumnEntry {
                name: c.name.clone(),
                kind: manifest::portable_type(&c.declared).to_string(),
            })
            .collect(),
        primary_key: table.primary_key().into_iter().map(String::from).collect(),
        pseudonymized: in_table_order(&private.pseudonymized),
        dropped: in_table_order(&private.dropped),
        masked: in_table_order(&private.masked),
        redacted: in_table_order(&private.redacted),
        parquet,
    })
}

/// A table the database matches the schema for cannot fail as a query but for the engine
/// (Parquet on SQLite) or the disk.
fn query_error(e: QueryError, table: &str, file: &str) -> Error {
    match e {
        QueryError::Unsupported(message) => {
            Error::problem(Diagnostic::new(message).field("--parquet"))
        }
        QueryError::Sql(e) => Error::Internal(anyhow::anyhow!(
            "cannot read the table `{table}`: {}",
            e.message
        )),
        QueryError::Sink(e) => Error::Internal(e.context(format!("cannot write `{file}`"))),
    }
}
