//! Raw files -> records that remember their file and place -> mapper -> engine.
//!
//! Reading, parsing and mapping run on worker threads, a bounded window of files at a time; the
//! one writer takes their results in file order, so a load is the same whatever the thread count,
//! and memory follows the window, not the folder. The ledger (`weir_files`) lets the writer skip
//! files loaded before and unchanged since.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use walkdir::WalkDir;

use crate::bookkeeping::{self, FileEntry, Rejected, Tally};
use crate::engine::{self, Load, MergeRefused, Value};
use crate::error::{Diagnostic, Location};
use crate::mapper::convert::Conversion;
use crate::mapper::{Mapped, Mapper, Page, RecordError};
use crate::progress::Progress;
use crate::yaml::{self, Spans, push_pointer};

/// Problems past this many are counted, not listed: the first ones are what to fix.
const MAX_PROBLEMS: usize = 100;

/// Items a worker hands over at once: fewer channel operations, still a small window.
const CHUNK: usize = 256;

/// A file whose modification time is this close to when the ledger recorded it may have changed
/// again within the clock's resolution: its content hash decides (git's "racy" rule).
const RACY_NS: i64 = 2_000_000_000;

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            on_error: OnError::Fail,
            jobs: 1,
            full: false,
            load_id: 0,
            progress: false,
        }
    }
}

/// What a load did for one source.
#[derive(Debug, Default, Clone)]
pub struct SourceStats {
    pub source: String,
    pub tally: Tally,
    /// Files that are not raw data (not .json, .jsonl, .ndjson, .yaml or .yml).
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

const KINDS: [&str; 5] = ["json", "jsonl", "ndjson", "yaml", "yml"];

/// A raw file and what the file system says of it.
#[derive(Debug, Clone)]
pub struct RawFile {
    pub path: PathBuf,
    /// Relative to the project root, with `/` separators.
    pub shown: String,
    pub size: i64,
    pub modified_ns: i64,
}

/// The raw files of one source folder, in path order. Symbolic links are followed (a loop is an
/// error naming it); hidden files and folders are left out.
pub fn raw_files(
    dir: &Path,
    root: &Path,
    problems: &mut Problems,
    skipped: &mut Vec<String>,
) -> Vec<RawFile> {
    let mut files = Vec::new();
    let walk = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let what = if e.loop_ancestor().is_some() {
                    "a symbolic link loops back to a folder above it".to_string()
                } else {
                    format!("cannot read it: {e}")
                };
                problems.push(
                    Diagnostic::new(what)
                        .at(Location::file(shown(e.path().unwrap_or(dir), root)))
                        .hint("remove or fix the link, or the permissions"),
                );
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if !KINDS.contains(&ext) {
            skipped.push(shown(entry.path(), root));
            continue;
        }
        let (size, modified_ns) = match entry.metadata() {
            Ok(m) => (
                i64::try_from(m.len()).unwrap_or(i64::MAX),
                m.modified().map_or(0, nanos),
            ),
            Err(_) => (0, 0),
        };
        files.push(RawFile {
            path: entry.path().to_path_buf(),
            shown: shown(entry.path(), root),
            size,
            modified_ns,
        });
    }
    files
}

fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A path relative to the project root, with `/` separators.
pub fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// One file to read, and the hash it had when loaded, if the ledger knows it.
struct Job {
    file: RawFile,
    known_hash: Option<String>,
}

/// What a worker hands the writer, in file order.
enum Item {
    Record(Box<Rec>),
    Reject(Box<Reject>),
    /// Nothing of the file can be read (bad JSON, YAML, UTF-8, or no record list).
    FileProblem(Diagnostic),
    /// The last item of every file. `hash` is empty when the file could not be read.
    Done {
        hash: String,
        unchanged: bool,
        empty: bool,
    },
}

/// A mapped record.
struct Rec {
    row: Vec<Value>,
    children: Vec<Vec<Vec<Value>>>,
    /// Where the record is, for the database's refusals.
    at: Location,
    /// Strict (hand-written) sources: its key, for the check that no key repeats.
    strict: Option<Strict>,
}

struct Strict {
    key: Vec<String>,
    /// `file:line:column` of the record.
    here: String,
    rejected: Rejected,
}

/// A record that cannot be loaded: what to tell, and what to keep of it.
struct Reject {
    diagnostics: Vec<Diagnostic>,
    rejected: Rejected,
    /// Strict sources: the key, when it could be read, so a repeat is reported too.
    strict: Option<Strict>,
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
    let dir = root.join("raw_data").join(&mapper.source);
    let mut stats = SourceStats {
        source: mapper.source.clone(),
        ..Default::default()
    };
    let files = raw_files(&dir, root, problems, &mut stats.skipped);
    let (jobs, gone) = match load.as_deref_mut() {
        Some(l) => plan(mapper, files, l, opts, &mut stats.tally)?,
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
    };
    pipeline(mapper, jobs, opts.jobs, &mut |job, item| {
        if let Item::Done { .. } = item {
            progress.file_done(job.size.max(0) as u64, writer.stats.tally.records_read);
        }
        writer.take(job, item)
    })?;
    progress.finish();
    let kept = std::mem::take(&mut writer.kept);
    if let Some(load) = load.filter(|_| problems.list.is_empty()) {
        match load.flush() {
            Ok(counts) => {
                stats.tally.loaded = counts.written;
                stats.tally.superseded = counts.superseded;
                // A complete source keeps the rows its files hold now: known only when they
                // were read (a skipped, unchanged source keeps what it has).
                if mapper.complete && (stats.tally.files > 0 || !gone.is_empty()) {
                    stats.tally.removed = load.retain(&mapper.spec, &mapper.child_specs, &kept)?;
                }
            }
            Err(e) if engine::is_resource_fault(&e) => return Err(e),
            // An engine that writes in batches finds a refused row only when it merges them.
            Err(e) => problems.push(refused_rows(&mapper.source, &e)),
        }
        for file in &gone {
            bookkeeping::file_gone(load, &mapper.source, file)?;
        }
    }
    Ok(stats)
}

/// The database refused one of the rows an engine merged together: the source is all it can name.
fn refused_rows(source: &str, e: &anyhow::Error) -> Diagnostic {
    Diagnostic::new(format!("the database refused rows of this source: {e:#}"))
        .at(Location::file(format!("raw_data/{source}/")))
        .hint("fix the records, or the table's constraints in schemas/")
}

/// Which files to read: those the ledger does not know as loaded, by this mapper, unchanged.
/// Also returns the ledger's files that are gone from the folder.
fn plan(
    mapper: &Mapper,
    files: Vec<RawFile>,
    load: &mut dyn Load,
    opts: &Options,
    tally: &mut Tally,
) -> anyhow::Result<(Vec<Job>, Vec<String>)> {
    let ledger = bookkeeping::files(load, &mapper.source)?;
    let gone: Vec<String> = ledger
        .keys()
        .filter(|k| !files.iter().any(|f| &f.shown == *k))
        .cloned()
        .collect();
    let usable = |f: &RawFile| -> Option<&FileEntry> {
        ledger
            .get(&f.shown)
            .filter(|e| !opts.full && e.mapper == mapper.fingerprint)
    };
    let same = |f: &RawFile| {
        usable(f).is_some_and(|e| {
            e.size == f.size
                && e.modified_ns == f.modified_ns
                && e.recorded_ns - f.modified_ns > RACY_NS
        })
    };
    // A complete source is all or nothing: its rows are the ones its files hold now.
    if mapper.complete {
        // Hand-written files are small: hash the ones whose size or time moved.
        let hashed = |f: &RawFile| {
            usable(f).is_some_and(|e| {
                e.size == f.size && std::fs::read(&f.path).is_ok_and(|b| hash(&b) == e.hash)
            })
        };
        if gone.is_empty() && !opts.full && files.iter().all(|f| same(f) || hashed(f)) {
            tally.files_unchanged = files.len();
            for f in files.iter().filter(|f| !same(f)) {
                let entry = FileEntry {
                    size: f.size,
                    modified_ns: f.modified_ns,
                    recorded_ns: nanos(SystemTime::now()),
                    ..ledger[&f.shown].clone()
                };
                bookkeeping::file_loaded(
                    load,
                    &mapper.source,
                    &f.shown,
                    &entry,
                    opts.load_id,
                    false,
                )?;
            }
            return Ok((Vec::new(), gone));
        }
        let jobs = files
            .into_iter()
            .map(|file| Job {
                file,
                known_hash: None,
            })
            .collect();
        return Ok((jobs, gone));
    }
    let mut jobs = Vec::new();
    for file in files {
        if same(&file) {
            tally.files_unchanged += 1;
            continue;
        }
        let known_hash = usable(&file).map(|e| e.hash.clone());
        jobs.push(Job { file, known_hash });
    }
    Ok((jobs, gone))
}

/// Reads `jobs` on `threads` workers (inline when 1) and hands every item to `take`, file by file
/// in the jobs' order. At most a few files per worker are in flight.
fn pipeline(
    mapper: &Mapper,
    jobs: Vec<Job>,
    threads: usize,
    take: &mut dyn FnMut(&RawFile, Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if threads <= 1 || jobs.len() <= 1 {
        for job in &jobs {
            let mut result = Ok(());
            read_file(mapper, job, &mut |item| {
                if result.is_ok() {
                    result = take(&job.file, item);
                }
            });
            result?;
        }
        return Ok(());
    }
    let window = threads * 4;
    type Work = (Job, mpsc::SyncSender<Vec<Item>>);
    let (job_tx, job_rx) = mpsc::sync_channel::<Work>(window);
    let job_rx = Mutex::new(job_rx);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = &job_rx;
            scope.spawn(move || {
                loop {
                    let next = job_rx
                        .lock()
                        .map_err(|_| ())
                        .and_then(|r| r.recv().map_err(|_| ()));
                    let Ok((job, out)) = next else { break };
                    let mut chunk = Vec::with_capacity(CHUNK);
                    read_file(mapper, &job, &mut |item| {
                        chunk.push(item);
                        if chunk.len() >= CHUNK {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                            // A closed channel means the writer gave up; the job ends quietly.
                            let _ = out.send(full);
                        }
                    });
                    let _ = out.send(chunk);
                }
            });
        }
        let mut pending: VecDeque<(RawFile, Receiver<Vec<Item>>)> = VecDeque::new();
        let mut drain = |file: RawFile, rx: Receiver<Vec<Item>>| -> anyhow::Result<()> {
            let mut done = false;
            for chunk in rx {
                for item in chunk {
                    done |= matches!(item, Item::Done { .. });
                    take(&file, item)?;
                }
            }
            anyhow::ensure!(done, "reading `{}` stopped before its end", file.shown);
            Ok(())
        };
        for job in jobs {
            let (tx, rx) = mpsc::sync_channel(2);
            let file = job.file.clone();
            job_tx
                .send((job, tx))
                .map_err(|_| anyhow::anyhow!("the reading threads stopped"))?;
            pending.push_back((file, rx));
            if pending.len() >= window
                && let Some((file, rx)) = pending.pop_front()
            {
                drain(file, rx)?;
            }
        }
        drop(job_tx);
        while let Some((file, rx)) = pending.pop_front() {
            drain(file, rx)?;
        }
        Ok(())
    })
}

/// The writer: takes items in file order, writes records, keeps the books.
struct Writer<'a, 'l> {
    mapper: &'a Mapper,
    load: Option<&'a mut (dyn Load + 'l)>,
    opts: &'a Options,
    problems: &'a mut Problems,
    stats: &'a mut SourceStats,
    /// Keys already loaded by a strict mapper, where hand-written records must not repeat.
    seen: HashMap<Vec<String>, String>,
    /// The keys loaded from a complete source: every other row of its table goes.
    kept: Vec<Vec<Value>>,
}

/// Rejected records shown on stderr per source; the rest are in `weir_rejected`.
const SHOWN_REJECTS: usize = 10;

impl Writer<'_, '_> {
    fn quarantine(&self) -> bool {
        self.opts.on_error == OnError::Quarantine && self.load.is_some()
    }

    fn take(&mut self, file: &RawFile, item: Item) -> anyhow::Result<()> {
        match item {
            Item::Record(rec) => {
                self.stats.tally.records_read += 1;
                self.record(*rec)
            }
            Item::Reject(r) => {
                self.stats.tally.records_read += 1;
                let mut diagnostics = r.diagnostics;
                if let Some(strict) = r.strict {
                    let at = diagnostics[0]
                        .location
                        .clone()
                        .unwrap_or_else(|| Location::file(&file.shown));
                    if let Err(d) = self.unique(strict, at) {
                        diagnostics.push(*d);
                    }
                }
                self.reject(diagnostics, &r.rejected)
            }
            Item::FileProblem(d) => {
                // A file nothing can be read from counts as one record, rejected.
                self.stats.tally.records_read += 1;
                let rejected = Rejected {
                    file: file.shown.clone(),
                    line: d.location.as_ref().and_then(|l| l.line),
                    record: None,
                    field: d.field.clone(),
                    reason: d.message.clone(),
                    raw: None,
                };
                self.reject(vec![d], &rejected)
            }
            Item::Done {
                hash,
                unchanged,
                empty,
            } => {
                if unchanged {
                    self.stats.tally.files_unchanged += 1;
                } else {
                    self.stats.tally.files += 1;
                }
                if empty {
                    self.stats.empty.push(file.shown.clone());
                }
                // A file that could not be read is not remembered: the next run tries again.
                // After a problem nothing will be committed, and a database that refused a
                // row may refuse everything after it: the first problem is the one to show.
                if let Some(load) = self.load.as_deref_mut()
                    && !hash.is_empty()
                    && self.problems.list.is_empty()
                {
                    let entry = FileEntry {
                        size: file.size,
                        modified_ns: file.modified_ns,
                        hash,
                        mapper: self.mapper.fingerprint.clone(),
                        recorded_ns: nanos(SystemTime::now()),
                    };
                    bookkeeping::file_loaded(
                        load,
                        &self.mapper.source,
                        &file.shown,
                        &entry,
                        self.opts.load_id,
                        !unchanged,
                    )?;
                }
                Ok(())
            }
        }
    }

    /// Strict sources: a key may appear once. The first record with it is remembered.
    fn unique(&mut self, strict: Strict, at: Location) -> Result<(), Box<Diagnostic>> {
        let Some(first) = self.seen.get(&strict.key) else {
            self.seen.insert(strict.key, strict.here);
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
        if let Err(e) = load.write(
            &self.mapper.spec,
            &rec.row,
            &self.mapper.child_specs,
            &rec.children,
        ) {
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
            bookkeeping::reject(load, self.opts.load_id, &self.mapper.source, rejected)?;
        }
        Ok(())
    }
}

/// The content hash the ledger keeps.
fn hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// Reads, parses and maps one file, handing over every record, problem, and at the end `Done`.
fn read_file(mapper: &Mapper, job: &Job, emit: &mut dyn FnMut(Item)) {
    let file = &job.file.shown;
    let bytes = match std::fs::read(&job.file.path) {
        Ok(b) => b,
        Err(e) => {
            emit(Item::FileProblem(
                Diagnostic::new(format!("cannot read the file: {e}"))
                    .at(Location::file(file))
                    .hint("check that the file is readable by this user"),
            ));
            emit(Item::Done {
                hash: String::new(),
                unchanged: false,
                empty: false,
            });
            return;
        }
    };
    let hash = hash(&bytes);
    if job.known_hash.as_deref() == Some(hash.as_str()) {
        emit(Item::Done {
            hash,
            unchanged: true,
            empty: false,
        });
        return;
    }
    let empty = parse_file(mapper, &job.file, bytes, emit);
    emit(Item::Done {
        hash,
        unchanged: false,
        empty,
    });
}

/// Maps the records of one file's text as run-etl would, without a database: how many records
/// map, and every problem (strict sources' repeated keys aside). For the fuzz targets.
pub fn check_text(mapper: &Mapper, shown: &str, text: &str) -> (usize, Vec<Diagnostic>) {
    let raw = RawFile {
        path: PathBuf::from(shown),
        shown: shown.to_string(),
        size: 0,
        modified_ns: 0,
    };
    let mut mapped = 0;
    let mut problems = Vec::new();
    parse_file(
        mapper,
        &raw,
        text.as_bytes().to_vec(),
        &mut |item| match item {
            Item::Record(_) => mapped += 1,
            Item::Reject(r) => problems.extend(r.diagnostics),
            Item::FileProblem(d) => problems.push(d),
            Item::Done { .. } => {}
        },
    );
    (mapped, problems)
}

/// A strict source's record key, unless part of it is missing (reported as such already).
fn strict_key(
    mapper: &Mapper,
    row: &[Value],
    ctx: &FileCtx,
    pointer: &str,
    record: &Json,
) -> Option<Strict> {
    let key = &mapper.spec.key;
    if !mapper.strict
        || key
            .iter()
            .any(|&k| row.get(k).is_none_or(|v| *v == Value::Null))
    {
        return None;
    }
    Some(Strict {
        key: key.iter().map(|&k| format!("{:?}", row[k])).collect(),
        here: ctx.here(pointer),
        rejected: ctx.rejected(pointer, record),
    })
}

/// Parses a file's bytes and maps its records; says whether the file held nothing at all.
fn parse_file(mapper: &Mapper, raw: &RawFile, bytes: Vec<u8>, emit: &mut dyn FnMut(Item)) -> bool {
    let file = raw.shown.as_str();
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let (line, column) = line_col(e.as_bytes(), offset);
            emit(Item::FileProblem(
                Diagnostic::new("the file is not valid UTF-8")
                    .at(Location::at(file, line, column))
                    .hint("save the file as UTF-8"),
            ));
            return false;
        }
    };
    if text.trim().is_empty() {
        return true;
    }
    let ext = raw.path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut ctx = FileCtx {
        mapper,
        file,
        spans: None,
        line: None,
    };
    let mut mapped = Mapped::default();
    let mut errors = Vec::new();
    let mut each = |value: &Json, ctx: &mut FileCtx, emit: &mut dyn FnMut(Item)| {
        for_each_record(
            value,
            ctx,
            emit,
            &mut |ctx, page, record, pointer, index, emit| {
                errors.clear();
                mapper.map(page, record, index, &mut mapped, &mut errors);
                if !errors.is_empty() {
                    // Fields as the record names them (`stats.time_of_rca`, `id`).
                    let fields: Vec<String> = errors
                        .iter()
                        .map(|e| e.field.clone())
                        .filter(|f| !f.starts_with('('))
                        .collect();
                    let diagnostics: Vec<Diagnostic> = errors
                        .drain(..)
                        .map(|e| ctx.diagnostic(pointer, e))
                        .collect();
                    let rejected = Rejected {
                        field: Some(fields.join(", ")).filter(|f| !f.is_empty()),
                        reason: diagnostics
                            .iter()
                            .map(|d| d.message.as_str())
                            .collect::<Vec<_>>()
                            .join("; "),
                        ..ctx.rejected(pointer, record)
                    };
                    emit(Item::Reject(Box::new(Reject {
                        diagnostics,
                        rejected,
                        strict: strict_key(mapper, &mapped.row, ctx, pointer, record),
                    })));
                    return;
                }
                let strict = strict_key(mapper, &mapped.row, ctx, pointer, record);
                emit(Item::Record(Box::new(Rec {
                    row: std::mem::take(&mut mapped.row),
                    children: std::mem::take(&mut mapped.children),
                    at: ctx.record_location(pointer),
                    strict,
                })));
            },
        );
    };
    match ext {
        "json" => match serde_json::from_str::<Json>(&text) {
            Ok(v) => each(&v, &mut ctx, emit),
            Err(e) => emit(Item::FileProblem(json_error(file, &e, 0))),
        },
        "jsonl" | "ndjson" => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Json>(line) {
                    Ok(v) => {
                        ctx.line = Some(i + 1);
                        each(&v, &mut ctx, emit);
                    }
                    // One bad line is one bad record; the other lines still count.
                    Err(e) => emit(Item::FileProblem(json_error(file, &e, i))),
                }
            }
        }
        _ => match yaml::parse(&text) {
            Ok((v, spans)) => {
                ctx.spans = Some(spans);
                each(&v, &mut ctx, emit);
            }
            Err(e) => emit(Item::FileProblem(
                Diagnostic::new(format!("invalid YAML: {}", e.message))
                    .at(Location::at(file, e.line, e.column)),
            )),
        },
    }
    false
}

fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1)
        + 1;
    (line, col)
}

fn json_error(file: &str, e: &serde_json::Error, line_offset: usize) -> Diagnostic {
    Diagnostic::new(
        format!("invalid JSON: {e}")
            .replace(&format!(" at line {} column {}", e.line(), e.column()), ""),
    )
    .at(Location::at(file, e.line() + line_offset, e.column()))
}

struct FileCtx<'a> {
    mapper: &'a Mapper,
    file: &'a str,
    spans: Option<Spans>,
    /// The line of the current JSONL value.
    line: Option<usize>,
}

impl FileCtx<'_> {
    /// A record problem, placed as exactly as the file allows.
    fn diagnostic(&self, record_pointer: &str, e: RecordError) -> Diagnostic {
        let full = if e.pointer.starts_with('$') {
            e.pointer.clone()
        } else {
            format!("{record_pointer}{}", e.pointer)
        };
        let mut location = Location::file(self.file);
        let field;
        if let Some(spans) = &self.spans {
            let pos = if e.at_key {
                spans.key(&full)
            } else {
                spans.nearest(&full)
            };
            if let Some((l, c)) = pos {
                location = Location::at(self.file, l, c);
            }
            field = e.field;
        } else {
            location.line = self.line;
            field = crate::mapper::field_name(&full);
        }
        let mut d = Diagnostic::new(e.message).at(location).field(field);
        d.hint = e.hint;
        d
    }

    /// Where the record at `pointer` starts, as exactly as the file allows.
    fn record_location(&self, pointer: &str) -> Location {
        match self.spans.as_ref().and_then(|s| s.nearest(pointer)) {
            Some((l, c)) => Location::at(self.file, l, c),
            None => Location {
                line: self.line,
                record: (self.line.is_none() && !pointer.is_empty())
                    .then(|| format!("record {pointer}")),
                ..Location::file(self.file)
            },
        }
    }

    /// `file:line:column` of the record, for "the same key as the record at …".
    fn here(&self, pointer: &str) -> String {
        match self.spans.as_ref().and_then(|s| s.nearest(pointer)) {
            Some((l, c)) => format!("{}:{l}:{c}", self.file),
            None => self.file.to_string(),
        }
    }

    /// The record as `weir_rejected` keeps it; field and reason are filled by the caller.
    fn rejected(&self, pointer: &str, record: &Json) -> Rejected {
        let line = match &self.spans {
            Some(s) => s.nearest(pointer).map(|(l, _)| l),
            None => self.line,
        };
        Rejected {
            file: self.file.to_string(),
            line,
            record: Some(pointer.to_string()).filter(|p| !p.is_empty()),
            field: None,
            reason: String::new(),
            raw: serde_json::to_string(record).ok(),
        }
    }
}

type OnRecord<'f> = dyn FnMut(&mut FileCtx, &Page, &Json, &str, usize, &mut dyn FnMut(Item)) + 'f;

/// Unwraps a page envelope, finds the record list and calls `f` per record with its pointer.
fn for_each_record(value: &Json, ctx: &mut FileCtx, emit: &mut dyn FnMut(Item), f: &mut OnRecord) {
    let file = ctx.file;
    let mut page = Page {
        file,
        ..Page::default()
    };
    let (body, mut pointer) = match value {
        Json::Object(map) if map.contains_key("weir_page") => {
            page.fetched_at = map.get("fetched_at");
            page.context = map.get("context");
            page.endpoint = map.get("endpoint");
            page.source = map.get("source");
            match map.get("body") {
                Some(body) => (body, "/body".to_string()),
                None => {
                    emit(Item::FileProblem(
                        Diagnostic::new("a weir page envelope has no `body`")
                            .at(Location {
                                line: ctx.line,
                                ..Location::file(file)
                            })
                            .hint("the vendor's response goes under `body`"),
                    ));
                    return;
                }
            }
        }
        other => (other, String::new()),
    };
    if let Some(ts) = page.fetched_at
        && let Err(e) = crate::mapper::convert::convert(Some(ts), &Conversion::Timestamp(None))
    {
        emit(Item::FileProblem(
            Diagnostic::new(e.message)
                .at(Location {
                    line: ctx.line,
                    ..Location::file(file)
                })
                .field("fetched_at"),
        ));
        return;
    }
    let mut list = body;
    if let Some(path) = &ctx.mapper.records {
        for seg in &path.segments {
            match list.get(seg) {
                Some(v) => {
                    push_pointer(&mut pointer, seg);
                    list = v;
                }
                None => {
                    let found = match list {
                        Json::Object(m) => format!(
                            "its keys are {}",
                            m.keys()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        Json::Array(_) => "it is a list".into(),
                        _ => "it is not an object".into(),
                    };
                    let mut d = Diagnostic::new(format!(
                        "the body has no `{}`, where the mapper expects the records ({found})",
                        path.display()
                    ))
                    .at(Location {
                        line: ctx.line,
                        ..Location::file(file)
                    });
                    d.hint = Some(format!(
                        "is this file in the right folder? Otherwise fix `records:` in {}",
                        ctx.mapper.file
                    ));
                    emit(Item::FileProblem(d));
                    return;
                }
            }
        }
    }
    match list {
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut p = pointer.clone();
                push_pointer(&mut p, &i.to_string());
                f(ctx, &page, item, &p, ctx.line.unwrap_or(i), emit);
            }
        }
        Json::Null => {}
        other => f(ctx, &page, other, &pointer, ctx.line.unwrap_or(0), emit),
    }
}
