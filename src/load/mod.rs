//! Raw files -> records that remember their file and place -> mapper -> engine.
//!
//! Reading, parsing and mapping run on worker threads, a bounded window of files at a time; the
//! one writer takes their results in file order, so a load is the same whatever the thread count,
//! and memory follows the window, not the folder. The ledger (`weir_files`) lets the writer skip
//! files loaded before and unchanged since.

mod files;
mod history;
mod known;
mod parse;
mod pipeline;
mod prune;
mod sheet;
mod singer;
mod writer;

use std::collections::HashMap;
use std::path::Path;

use crate::bookkeeping::{self, Tally};
use crate::engine::{self, Load};
use crate::error::{Diagnostic, Location};
use crate::mapper::Mapper;
use crate::progress::Progress;
use files::plan;
pub use files::{RawFile, raw_files, relative_path};
pub use known::unknown_values;
pub use parse::{RawRecord, check_text};
use pipeline::{Item, Job, pipeline};
use writer::{Writer, refused_history};

/// Problems past this many are counted, not listed: the first ones are what to fix.
const MAX_PROBLEMS: usize = 100;
/// What to do with a record that cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Load nothing when any record is bad, and list every problem.
    #[default]
    Fail,
    /// Set bad records aside in `weir_rejected` and load the rest.
    Quarantine,
}

impl OnError {
    pub fn name(self) -> &'static str {
        match self {
            OnError::Fail => "fail",
            OnError::Quarantine => "quarantine",
        }
    }
}

/// How a load runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub on_error: OnError,
    /// Threads that read, parse and map; 1 does it all on the writer's thread.
    pub jobs: usize,
    /// Ignore the ledger: read every file.
    pub full: bool,
    /// The number of this load in `weir_loads`.
    pub load_id: i64,
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// The name this project folder's ledger goes by in a shared warehouse (`Load::shared`);
    /// empty for a database of one folder.
    pub folder: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            on_error: OnError::Fail,
            jobs: 1,
            full: false,
            load_id: 0,
            progress: false,
            folder: String::new(),
        }
    }
}

/// What a load did for one source.
#[derive(Debug, Default, Clone)]
pub struct SourceStats {
    pub source: String,
    pub tally: Tally,
    /// Files that are not raw data (not .json, .jsonl, .ndjson, .yaml, .yml, .csv, .tsv or .xlsx).
    pub skipped: Vec<String>,
    /// Files with nothing in them.
    pub empty: Vec<String>,
    /// The first problems of records set aside (quarantine), to show.
    pub rejected: Vec<Diagnostic>,
}

/// Collects problems across files, so one run reports them all.
#[derive(Default)]
pub struct Problems {
    pub list: Vec<Diagnostic>,
    pub more: usize,
}

impl Problems {
    fn push(&mut self, d: Diagnostic) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(d);
        } else {
            self.more += 1;
        }
    }

    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        if self.more > 0 {
            self.list.push(Diagnostic::note(format!(
                "{} more problems not shown; fix the ones above first",
                self.more
            )));
        }
        self.list
    }
}

/// Loads every raw file of `mapper`'s source through `load` (or only checks them when `load` is
/// `None`). Problems are collected; the caller decides whether to commit.
pub fn load_source(
    mapper: &Mapper,
    root: &Path,
    mut load: Option<&mut (dyn Load + '_)>,
    opts: &Options,
    problems: &mut Problems,
) -> anyhow::Result<SourceStats> {
    let dir = root.join(mapper.raw_path());
    let mut stats = SourceStats {
        source: mapper.source.clone(),
        ..Default::default()
    };
    // A `files:` path that is not there holds no records (a complete source then empties).
    let files = if mapper.files.is_some() && !dir.exists() {
        Vec::new()
    } else {
        raw_files(&dir, root, problems, &mut stats.skipped)
    };
    let (jobs, gone) = match load.as_deref_mut() {
        Some(l) => plan(mapper, files, l, opts, &mut stats.tally, problems)?,
        None => (
            files
                .into_iter()
                .map(|file| Job {
                    file,
                    known_hash: None,
                })
                .collect(),
            Vec::new(),
        ),
    };
    let mut progress = Progress::new(
        opts.progress,
        &mapper.source,
        jobs.len(),
        jobs.iter().map(|j| j.file.size.max(0) as u64).sum(),
    );
    let mut writer = Writer {
        mapper,
        load: load.as_deref_mut(),
        opts,
        problems,
        stats: &mut stats,
        seen: HashMap::new(),
        kept: Vec::new(),
        history: None,
    };
    let native = match (&mut writer.load, &mapper.history) {
        (Some(l), Some(table)) => l.keep_history(&mapper.spec, table)?,
        _ => false,
    };
    if !native {
        writer.history = history::History::new(mapper);
    }
    pipeline(mapper, jobs, opts.jobs, &mut |job, item| {
        if let Item::FileEnd(_) = item {
            progress.file_done(job.size.max(0) as u64, writer.stats.tally.records_read);
        }
        writer.take(job, item)
    })?;
    progress.finish();
    let kept = std::mem::take(&mut writer.kept);
    let mut history = writer.history.take();
    if let Some(load) = load.filter(|_| problems.list.is_empty()) {
        if let Some(h) = &mut history
            && let Err(e) = h.finish(load)
        {
            if engine::is_resource_fault(&e) {
                return Err(e);
            }
            problems.push(refused_history(mapper, &e));
            return Ok(stats);
        }
        match load.flush() {
            Ok(counts) => {
                stats.tally.loaded = counts.written;
                stats.tally.superseded = counts.superseded;
                // A complete source keeps the rows its files hold now: known only when they
                // were read (a skipped, unchanged source keeps what it has).
                if mapper.complete && (stats.tally.files > 0 || !gone.is_empty()) {
                    stats.tally.removed = load.retain(&mapper.spec, &mapper.child_specs, &kept)?;
                    // A key gone from the source closes its open version (docs/MAPPERS.md,
                    // History tables).
                    if stats.tally.removed > 0
                        && let Some(h) = &mut history
                    {
                        h.close_gone(load)?;
                    }
                }
            }
            Err(e) if engine::is_resource_fault(&e) => return Err(e),
            // An engine that writes in batches finds a refused row only when it merges them.
            Err(e) => problems.push(refused_rows(&mapper.source, &e)),
        }
        for file in &gone {
            bookkeeping::file_gone(load, &mapper.source, &opts.folder, file)?;
        }
    }
    Ok(stats)
}

/// The database refused one of the rows an engine merged together: the source is all it can name.
pub(super) fn refused_rows(source: &str, e: &anyhow::Error) -> Diagnostic {
    Diagnostic::new(format!("the database refused rows of this source: {e:#}"))
        .at(Location::file(format!("raw_data/{source}/")))
        .hint("fix the records, or the table's constraints in schemas/")
}

/// Every raw record of the folder `dir`, read as run-etl reads it with `mapper` (its `records:`,
/// `csv:` and `sheet:`), unmapped, in file order: what `weir infer` profiles. Returns the number
/// of raw files read, and every problem of the files (they are not skipped silently).
pub fn read_records(
    mapper: &Mapper,
    root: &Path,
    dir: &Path,
    each: &mut dyn FnMut(&RawFile, RawRecord),
) -> (usize, Problems) {
    let mut problems = Problems::default();
    let mut skipped = Vec::new();
    let files = raw_files(dir, root, &mut problems, &mut skipped);
    for file in &files {
        let bytes = match std::fs::read(&file.path) {
            Ok(b) => b,
            Err(e) => {
                problems.push(
                    Diagnostic::new(format!("cannot read the file: {e}"))
                        .at(Location::file(&file.relative))
                        .hint("check the file and its folder's permissions"),
                );
                continue;
            }
        };
        parse::read_raw(mapper, file, bytes, &mut |d| problems.push(d), &mut |r| {
            each(file, r)
        });
    }
    (files.len(), problems)
}
