//! `weir import`: the manifest read and every file checked against it and against this
//! project's schema before anything is written; then each table's rows replaced by the file's,
//! all in the caller's one transaction, the file hashed again as it is read.

use std::collections::HashSet;
use std::io::BufReader;
use std::path::Path;

use super::csv::{Cell, Reader};
use super::manifest::{self, HashingReader, Manifest, TableEntry};
use crate::engine::{Load, Table, Value, quote};
use crate::error::{Diagnostic, Error, Location, Result, did_you_mean};
use crate::schema::Schema;

/// Where an export is, as messages name it: `shown/<file>`.
pub struct Folder<'a> {
    pub dir: &'a Path,
    pub shown: &'a str,
}

impl Folder<'_> {
    fn at(&self, file: &str) -> Location {
        Location::file(format!("{}/{file}", self.shown.trim_end_matches('/')))
    }

    fn at_line(&self, file: &str, line: usize) -> Location {
        Location {
            line: Some(line),
            ..self.at(file)
        }
    }
}

/// Reads and checks `manifest.json`.
pub fn manifest(folder: &Folder) -> Result<Manifest> {
    let at = || folder.at(manifest::FILE);
    if !folder.dir.is_dir() {
        return Err(Error::problem(
            Diagnostic::new("the export folder does not exist")
                .at(Location::file(folder.shown))
                .hint("name a folder that `weir export --to DIR` wrote"),
        ));
    }
    let text = match std::fs::read_to_string(folder.dir.join(manifest::FILE)) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::problem(
                Diagnostic::new("the export has no manifest")
                    .at(at())
                    .hint("name a folder that `weir export --to DIR` wrote; an import checks every file against its manifest"),
            ));
        }
        Err(e) => {
            return Err(Error::problem(
                Diagnostic::new(format!("cannot read the manifest: {e}")).at(at()),
            ));
        }
    };
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        // The location goes where locations go, not at the end of the message.
        let message = e.to_string();
        let place = format!(" at line {} column {}", e.line(), e.column());
        let message = message.strip_suffix(&place).unwrap_or(&message);
        Error::problem(
            Diagnostic::new(format!("the manifest is not a weir export's: {message}"))
                .at(Location::at(at().file, e.line().max(1), e.column().max(1)))
                .hint("export again with `weir export`; the manifest must be as it wrote it"),
        )
    })?;
    if m.format != manifest::FORMAT {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "the manifest's format is `{}`, not `{}`",
                m.format,
                manifest::FORMAT
            ))
            .at(at()),
        ));
    }
    if m.version > manifest::VERSION {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "the export is of version {}, written by weir {}; this weir reads version {} at most",
                m.version,
                m.weir_version,
                manifest::VERSION
            ))
            .at(at())
            .hint("import it with a weir as new as the one that wrote it"),
        ));
    }
    Ok(m)
}

/// A table to import: its manifest entry and its declaration here.
pub struct Plan<'a> {
    pub entry: &'a TableEntry,
    pub table: &'a Table,
}

/// Checks every table of the manifest against the schema here and every file against the
/// manifest (size and SHA-256); reports every problem, and nothing is written.
pub fn verify<'a>(folder: &Folder, m: &'a Manifest, schema: &'a Schema) -> Result<Vec<Plan<'a>>> {
    let tables = &schema.tables;
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    let mut seen = HashSet::new();
    let mut files = HashSet::new();
    for entry in &m.tables {
        let at = folder.at(manifest::FILE);
        if !seen.insert(entry.name.as_str()) {
            problems.push(
                Diagnostic::new(format!("the manifest lists table `{}` twice", entry.name))
                    .at(at.clone()),
            );
            continue;
        }
        let mut named = std::iter::once(&entry.file).chain(entry.parquet.iter().map(|p| &p.file));
        if let Some(bad) =
            named.find(|f| !manifest::plain_file_name(f) || !files.insert(f.as_str()))
        {
            problems.push(
                Diagnostic::new(format!(
                    "table `{}` names the file `{bad}`, which is not a file of its own in the export folder",
                    entry.name
                ))
                .at(at.clone()),
            );
            continue;
        }
        let Some((table, file)) = tables
            .iter()
            .zip(&schema.file_of)
            .find(|(t, _)| t.name == entry.name)
        else {
            let mut d = Diagnostic::new(format!(
                "the export holds table `{}`, which schemas/ does not declare",
                entry.name
            ))
            .at(at.clone());
            d.hint = did_you_mean(&entry.name, tables.iter().map(|t| t.name.as_str())).or_else(
                || {
                    Some(
                        "declare it in schemas/ here, or export without it (`weir export --tables …`)"
                            .into(),
                    )
                },
            );
            problems.push(d);
            continue;
        };
        let diffs = column_differences(entry, table);
        if !diffs.is_empty() {
            problems.push(
                Diagnostic::new(format!(
                    "table `{}` differs from the schema here: {}",
                    entry.name,
                    diffs.join("; ")
                ))
                .at(at.clone())
                .hint(format!(
                    "the table needs the same columns on both sides: compare {file} here with the exporting side's, or export without it (`--tables`)"
                )),
            );
        }
        check_file(
            folder,
            &entry.file,
            entry.bytes,
            &entry.sha256,
            &mut problems,
        );
        if let Some(p) = &entry.parquet {
            check_file(folder, &p.file, p.bytes, &p.sha256, &mut problems);
        }
        plans.push(Plan { entry, table });
    }
    if problems.is_empty() {
        Ok(plans)
    } else {
        problems.push(Diagnostic::note("nothing was imported"));
        Err(Error::Problems(problems))
    }
}

/// How the manifest's columns differ from the table here, in words.
fn column_differences(entry: &TableEntry, table: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in &entry.columns {
        match table.column(&c.name) {
            None => out.push(format!("column `{}` is not in the schema here", c.name)),
            Some(here) => {
                let kind = manifest::portable_type(&here.declared);
                if kind != c.kind {
                    out.push(format!(
                        "column `{}` is {} in the export but {kind} here",
                        c.name, c.kind
                    ));
                }
            }
        }
    }
    for here in &table.columns {
        if !entry.columns.iter().any(|c| c.name == here.name) {
            out.push(format!("column `{}` is not in the export", here.name));
        }
    }
    let key: Vec<String> = table.primary_key().into_iter().map(String::from).collect();
    if key != entry.primary_key {
        out.push(format!(
            "the key is ({}) in the export but ({}) here",
            entry.primary_key.join(", "),
            key.join(", ")
        ));
    }
    out
}

fn check_file(
    folder: &Folder,
    file: &str,
    bytes: u64,
    sha256: &str,
    problems: &mut Vec<Diagnostic>,
) {
    let at = folder.at(file);
    match manifest::hash_file(&folder.dir.join(file)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => problems.push(
            Diagnostic::new("the file is missing; the manifest lists it")
                .at(at)
                .hint("copy the whole export folder, or export again"),
        ),
        Err(e) => problems.push(Diagnostic::new(format!("cannot read the file: {e}")).at(at)),
        Ok((size, hash)) if size != bytes || hash != sha256 => {
            let what = if size == bytes {
                format!("its SHA-256 is `{hash}`, the manifest says `{sha256}`")
            } else {
                format!("it has {size} bytes, the manifest says {bytes}")
            };
            problems.push(
                Diagnostic::new(format!("the file does not match the manifest: {what}"))
                    .at(at)
                    .hint("it was changed or cut short after the export; copy it again, or export again"),
            );
        }
        Ok(_) => {}
    }
}

/// Replaces the rows of the plan's table with the file's; returns how many.
pub fn load(load: &mut dyn Load, folder: &Folder, plan: &Plan) -> Result<u64> {
    let entry = plan.entry;
    let file = entry.file.as_str();
    let table = quote(&plan.table.name);
    load.execute(&format!("DELETE FROM {table}"), &[])?;
    let names: Vec<&str> = entry.columns.iter().map(|c| c.name.as_str()).collect();
    let kinds: Vec<&str> = entry.columns.iter().map(|c| c.kind.as_str()).collect();
    let insert = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names
            .iter()
            .map(|n| quote(n))
            .collect::<Vec<_>>()
            .join(", "),
        vec!["?"; names.len()].join(", ")
    );
    let opened = std::fs::File::open(folder.dir.join(file)).map_err(|e| {
        Error::problem(Diagnostic::new(format!("cannot read the file: {e}")).at(folder.at(file)))
    })?;
    let mut hashing = HashingReader::new(opened);
    let mut reader = Reader::new(BufReader::new(&mut hashing));
    let bad = |line: usize, message: String| {
        Diagnostic::new(message)
            .at(folder.at_line(file, line))
            .hint(
                "the file matches its manifest's hash, so the export itself is wrong: export again",
            )
    };
    let read = |reader: &mut Reader<_>| {
        reader
            .record()
            .map_err(|e| Error::problem(bad(e.line, e.message.clone())))
    };
    let header = read(&mut reader)?.unwrap_or_default();
    let want: Vec<Cell> = names.iter().map(|n| Some(n.to_string())).collect();
    if header != want {
        let got: Vec<String> = header.into_iter().map(Option::unwrap_or_default).collect();
        return Err(Error::problem(bad(
            1,
            format!(
                "the header is `{}`, the manifest's columns are `{}`",
                got.join(","),
                names.join(",")
            ),
        )));
    }
    let mut rows = 0u64;
    let mut values = Vec::with_capacity(names.len());
    while let Some(record) = read(&mut reader)? {
        let line = reader.line();
        if record.len() != names.len() {
            return Err(Error::problem(bad(
                line,
                format!(
                    "the row has {} cells, the header {}",
                    record.len(),
                    names.len()
                ),
            )));
        }
        values.clear();
        for ((cell, kind), name) in record.into_iter().zip(&kinds).zip(&names) {
            values.push(
                value(cell, kind).map_err(|why| Error::problem(bad(line, why).field(*name)))?,
            );
        }
        load.execute(&insert, &values).map_err(|e| {
            Error::problem(
                Diagnostic::new(format!("the database refused the row: {e:#}"))
                    .at(folder.at_line(file, line))
                    .hint("the table here must take what the exporting side's took: compare the two schemas/"),
            )
        })?;
        rows += 1;
    }
    drop(reader);
    let (bytes, sha256) = hashing.finish();
    if bytes != entry.bytes || sha256 != entry.sha256 {
        return Err(Error::problem(
            Diagnostic::new("the file changed while it was imported").at(folder.at(file)),
        ));
    }
    if rows != entry.rows {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "the file holds {rows} rows, the manifest says {}",
                entry.rows
            ))
            .at(folder.at(file))
            .hint("the manifest was changed after the export: export again"),
        ));
    }
    Ok(rows)
}

/// A cell as the column's type: NULL when empty without quotes.
fn value(cell: Cell, kind: &str) -> Result<Value, String> {
    let Some(text) = cell else {
        return Ok(Value::Null);
    };
    match kind {
        "integer" | "boolean" => text
            .parse()
            .map(Value::Integer)
            .map_err(|_| format!("`{text}` is not an integer")),
        "real" => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Real(f)),
            _ => Err(format!("`{text}` is not a finite number")),
        },
        _ => Ok(Value::Text(text)),
    }
}
