//! The one writer: takes items in file order, writes records, keeps the books.

use std::collections::HashMap;
use std::time::SystemTime;

use super::files::{RawFile, nanos};
use super::history::History;
use super::pipeline::{FileEnd, Item, Rec, Reject, Strict};
use super::{OnError, Options, Problems, SourceStats, refused_rows};
use crate::bookkeeping::{self, FileEntry, Rejected};
use crate::engine::{self, Load, MergeRefused, Value};
use crate::error::{Diagnostic, Location};
use crate::mapper::Mapper;

/// The writer: takes items in file order, writes records, keeps the books.
pub(super) struct Writer<'a, 'l> {
    pub(super) mapper: &'a Mapper,
    pub(super) load: Option<&'a mut (dyn Load + 'l)>,
    pub(super) opts: &'a Options,
    pub(super) problems: &'a mut Problems,
    pub(super) stats: &'a mut SourceStats,
    /// Keys already loaded by a strict mapper, where hand-written records must not repeat.
    pub(super) seen: HashMap<Vec<String>, String>,
    /// The keys loaded from a complete source: every other row of its table goes.
    pub(super) kept: Vec<Vec<Value>>,
    /// `history: true`: the records held for the history table.
    pub(super) history: Option<History>,
}

/// Rejected records shown on stderr per source; the rest are in `weir_rejected`.
const SHOWN_REJECTS: usize = 10;

impl Writer<'_, '_> {
    fn quarantine(&self) -> bool {
        self.opts.on_error == OnError::Quarantine && self.load.is_some()
    }

    /// Takes the next item of `file`.
    pub(super) fn take(&mut self, file: &RawFile, item: Item) -> anyhow::Result<()> {
        match item {
            Item::Record(rec) => {
                self.stats.tally.records_read += 1;
                self.record(*rec)
            }
            Item::Reject(r) => {
                self.stats.tally.records_read += 1;
                self.rejected_record(file, *r)
            }
            Item::FileProblem(d) => {
                // A file nothing can be read from counts as one record, rejected.
                self.stats.tally.records_read += 1;
                let rejected = Rejected {
                    file: file.relative.clone(),
                    line: d.location.as_ref().and_then(|l| l.line),
                    record: None,
                    field: d.field.clone(),
                    reason: d.message.clone(),
                    raw: None,
                };
                self.reject(vec![d], &rejected)
            }
            Item::FileEnd(end) => self.file_end(file, end),
        }
    }

    fn rejected_record(&mut self, file: &RawFile, r: Reject) -> anyhow::Result<()> {
        let mut diagnostics = r.diagnostics;
        if let Some(strict) = r.strict {
            let at = diagnostics[0]
                .location
                .clone()
                .unwrap_or_else(|| Location::file(&file.relative));
            if let Err(d) = self.unique(strict, at) {
                diagnostics.push(*d);
            }
        }
        self.reject(diagnostics, &r.rejected)
    }

    /// Counts the file and records it in the ledger.
    fn file_end(&mut self, file: &RawFile, end: FileEnd) -> anyhow::Result<()> {
        if end.unchanged {
            self.stats.tally.files_unchanged += 1;
        } else {
            self.stats.tally.files += 1;
        }
        if end.empty {
            self.stats.empty.push(file.relative.clone());
        }
        // A file that could not be read is not remembered: the next run tries again. After a
        // problem nothing will be committed, and a database that refused a row may refuse
        // everything after it: the first problem is the one to show.
        let Some(load) = self.load.as_deref_mut() else {
            return Ok(());
        };
        if end.hash.is_empty() || !self.problems.list.is_empty() {
            return Ok(());
        }
        let entry = FileEntry {
            size: file.size,
            modified_ns: file.modified_ns,
            hash: end.hash,
            mapper: self.mapper.fingerprint.clone(),
            recorded_ns: nanos(SystemTime::now()),
        };
        let source = &self.mapper.source;
        bookkeeping::file_loaded(
            load,
            source,
            &self.opts.folder,
            &file.relative,
            &entry,
            self.opts.load_id,
            !end.unchanged,
        )
    }

    /// Strict sources: a key may appear once. The first record with it is remembered.
    fn unique(&mut self, strict: Strict, at: Location) -> Result<(), Box<Diagnostic>> {
        let Some(first) = self.seen.get(&strict.key) else {
            self.seen.insert(strict.key, strict.place);
            return Ok(());
        };
        let names: Vec<&str> = self
            .mapper
            .spec
            .key
            .iter()
            .map(|&k| self.mapper.spec.columns[k].as_str())
            .collect();
        Err(Box::new(
            Diagnostic::new(format!(
                "the same {} as the record at {first}",
                names.join(" and ")
            ))
            .at(at)
            .field(names.join(", "))
            .hint("each record must appear once: merge the two, or correct one of them"),
        ))
    }

    fn record(&mut self, rec: Rec) -> anyhow::Result<()> {
        if let Some(mut strict) = rec.strict {
            let rejected = std::mem::take(&mut strict.rejected);
            if let Err(d) = self.unique(strict, rec.at.clone()) {
                let rejected = Rejected {
                    field: d.field.clone(),
                    reason: d.message.clone(),
                    ..rejected
                };
                return self.reject(vec![*d], &rejected);
            }
        }
        if !self.problems.list.is_empty() {
            return Ok(()); // Nothing will be committed; only look for more problems.
        }
        let Some(load) = self.load.as_deref_mut() else {
            return Ok(());
        };
        if self.mapper.complete {
            self.kept.push(
                self.mapper
                    .spec
                    .key
                    .iter()
                    .map(|&k| rec.row[k].clone())
                    .collect(),
            );
        }
        // The database refusing a record (a constraint mapping cannot see) is still the data's
        // problem: say which record. It stops the load in either mode: the record's rows may be
        // half written.
        let written = load.write(
            &self.mapper.spec,
            &rec.row,
            &self.mapper.child_specs,
            &rec.children,
        );
        if written.is_ok()
            && let Some(history) = &mut self.history
            && let Err(e) = history.hold(load, &rec.row)
        {
            if engine::is_resource_fault(&e) {
                return Err(e);
            }
            self.problems.push(refused_history(self.mapper, &e));
            return Ok(());
        }
        if let Err(e) = written {
            // The machine failing (a full disk, no memory) is not the record's fault.
            if engine::is_resource_fault(&e) {
                return Err(e);
            }
            self.problems
                .push(if e.downcast_ref::<MergeRefused>().is_some() {
                    refused_rows(&self.mapper.source, &e)
                } else {
                    Diagnostic::new(format!("the database refused it: {e:#}"))
                        .at(rec.at)
                        .hint("fix the record, or the table's constraints in schemas/")
                });
        }
        Ok(())
    }

    fn reject(&mut self, diagnostics: Vec<Diagnostic>, rejected: &Rejected) -> anyhow::Result<()> {
        if !self.quarantine() {
            for d in diagnostics {
                self.problems.push(d);
            }
            return Ok(());
        }
        self.stats.tally.rejected += 1;
        for d in diagnostics {
            if self.stats.rejected.len() < SHOWN_REJECTS {
                self.stats.rejected.push(d);
            }
        }
        if let Some(load) = self.load.as_deref_mut()
            && self.problems.list.is_empty()
        {
            bookkeeping::reject(
                load,
                self.opts.load_id,
                &self.mapper.source,
                &self.opts.folder,
                rejected,
            )?;
        }
        Ok(())
    }
}

/// The database refused rows of the history table: a constraint of the current table's
/// definition that a superseded record breaks, say. The source is all it can name.
pub(super) fn refused_history(mapper: &Mapper, e: &anyhow::Error) -> Diagnostic {
    let table = mapper.history.as_deref().unwrap_or_default();
    Diagnostic::new(format!(
        "the database refused rows of the history table `{table}`: {e:#}"
    ))
    .at(Location::file(format!("raw_data/{}/", mapper.source)))
    .hint("fix the records, or the table's constraints in schemas/ (its history table has the same columns)")
}
