//! `weir run-etl [SOURCE...]`: loads raw_data/<SOURCE>/ through mappers/<SOURCE>.yaml into the
//! database, in one transaction: every record is written, or, on any problem, nothing is.

use std::sync::Arc;

use crate::bookkeeping::{self, LoadRow, Tally};
use crate::engine::Engine;
use crate::error::{Diagnostic, Error, Location, Result, did_you_mean};
use crate::load::{self, OnError, Options, Problems, SourceStats};
use crate::lock::{self, Mode};
use crate::mapper::privacy::{MIN_SECRET_LEN, Secret};
use crate::mapper::{self, Mapper};
use crate::schema::Schema;
use crate::settings::Settings;
use crate::summary::{self, Severity, Summary};

pub fn run(
    settings: &Settings,
    sources: &[String],
    opts: &Options,
    summary: &mut Summary,
) -> Result<()> {
    let _db = lock::database(settings, Mode::Exclusive, "run-etl")?;
    let _raw = lock::raw_data(settings, Mode::Shared, "run-etl")?;
    if settings.in_memory() {
        settings.say(
            "note: the database is in memory (`--in-memory` or DB_MODE=MEMORY): what this run loads is not kept; \
             `weir run --in-memory` loads and reports in one go",
        );
    }
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    let mut sources = sources.to_vec();
    if sources.is_empty()
        && let Some(dir) = settings.var("DIRECTORY_PATH")
    {
        sources.push(dir);
    }
    let rejected = etl(settings, engine.as_mut(), &schema, &sources, opts, summary)?;
    partial(rejected)
}

/// A quarantine run that set records aside ends with its own exit code (3).
pub(crate) fn partial(rejected: usize) -> Result<()> {
    if rejected > 0 {
        Err(Error::Partial(format!(
            "{rejected} records were set aside; the rest is loaded"
        )))
    } else {
        Ok(())
    }
}

/// The sources to load: the named ones, or every folder in raw_data/.
pub(crate) fn pick_sources(settings: &Settings, named: &[String]) -> Result<Vec<String>> {
    let raw = settings.path("raw_data");
    let mut folders: Vec<String> = match std::fs::read_dir(&raw) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .filter(|n| !n.starts_with('.'))
            .collect(),
        Err(e) => {
            return Err(Error::problem(
                Diagnostic::new(format!("cannot read the raw data folder: {e}"))
                    .at(Location::file("raw_data/"))
                    .hint("run weir in a project folder, or pass `--root DIR`"),
            ));
        }
    };
    // Sources whose mapper says where its files are (`files:`), such as reference lists.
    for name in mapper::sources(&settings.path("mappers")).unwrap_or_default() {
        if !folders.contains(&name)
            && mapper::declared_files(&settings.path("mappers"), &name).is_some()
        {
            folders.push(name);
        }
    }
    folders.sort();
    if named.is_empty() {
        return Ok(folders);
    }
    let mut problems = Vec::new();
    let mut picked = Vec::new();
    for n in named {
        // Accept `raw_data/x` and `x/` as well as `x`, the way the original tool's DIRECTORY_PATH was written.
        let name = n.trim_end_matches('/').trim_start_matches("raw_data/");
        if folders.iter().any(|f| f == name) {
            picked.push(name.to_string());
        } else {
            let mut d = Diagnostic::new(format!("no source `{n}`"))
                .at(Location::file(format!("raw_data/{name}/")));
            d.hint = did_you_mean(name, folders.iter().map(String::as_str)).or_else(|| {
                Some(format!(
                    "the sources are the folders in raw_data/: {}",
                    folders.join(", ")
                ))
            });
            problems.push(d);
        }
    }
    if problems.is_empty() {
        Ok(picked)
    } else {
        Err(Error::Problems(problems))
    }
}

/// Reads and checks the mapper of each source against the schema, with the secret that
/// pseudonymises: a mapper that needs it and lacks it is a problem, so nothing loads.
pub(crate) fn mappers(
    settings: &Settings,
    schema: &Schema,
    sources: &[String],
) -> Result<Vec<Mapper>> {
    let secret = hash_secret(settings)?;
    let out = read_mappers(settings, schema, sources, secret.as_ref())?;
    if secret.is_some() {
        return Ok(out);
    }
    let problems: Vec<Diagnostic> = out
        .iter()
        .filter_map(|m| {
            let c = m.pseudonymized()?;
            let (line, column) = c.declared_at;
            Some(
                Diagnostic::new(format!(
                    "column `{}` is `privacy: pseudonymize`, but WEIR_HASH_SECRET is not set",
                    c.name
                ))
                .at(Location::at(&m.file, line, column))
                .hint(format!(
                    "set WEIR_HASH_SECRET ({MIN_SECRET_LEN} characters or more, kept secret) in the \
                     environment or in the project's .env; README.md, section Privacy, says how"
                )),
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Problems(problems))
    }
}

/// WEIR_HASH_SECRET (environment, else `.env`), when set. Its value is never shown, not even
/// when it is refused.
pub(crate) fn hash_secret(settings: &Settings) -> Result<Option<Arc<Secret>>> {
    let Some(text) = settings.var("WEIR_HASH_SECRET") else {
        return Ok(None);
    };
    match Secret::new(&text) {
        Some(s) => Ok(Some(Arc::new(s))),
        None => Err(Error::problem(
            Diagnostic::new(format!(
                "the secret is shorter than {MIN_SECRET_LEN} characters, too short to keep pseudonyms from being guessed"
            ))
            .field("WEIR_HASH_SECRET")
            .hint("choose a long random one, e.g. the output of `openssl rand -hex 32`"),
        )),
    }
}

/// The mappers of `sources`, pseudonymising with `secret` when there is one. Commands that only
/// read the mappers' shape (docs, export's privacy lists, scan-pii) pass `None`: they need no secret.
pub(crate) fn read_mappers(
    settings: &Settings,
    schema: &Schema,
    sources: &[String],
    secret: Option<&Arc<Secret>>,
) -> Result<Vec<Mapper>> {
    let known = mapper::sources(&settings.path("mappers")).map_err(anyhow::Error::from)?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for source in sources {
        let Some(path) = ["yaml", "yml"]
            .iter()
            .map(|e| settings.path("mappers").join(format!("{source}.{e}")))
            .find(|p| p.is_file())
        else {
            let mut d = Diagnostic::new(format!("raw_data/{source}/ has no mapper"))
                .at(Location::file(format!("mappers/{source}.yaml")));
            d.hint = did_you_mean(source, known.iter().map(String::as_str))
                .map(|m| format!("{m} (rename the folder or the mapper so they match)"))
                .or_else(|| Some("write a mapper for it (see docs/MAPPERS.md)".into()));
            problems.push(d);
            continue;
        };
        let relative = format!(
            "mappers/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        match mapper::load(
            source,
            &path,
            &relative,
            &schema.tables,
            &settings.path("schemas"),
            secret,
        ) {
            Ok(m) => out.push(m),
            Err(p) => problems.extend(p),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(Error::Problems(problems))
    }
}

/// Loads `sources` (all when empty) in one transaction, with the run's books kept in the same
/// transaction. Returns how many records were set aside (quarantine). Each source's books, and
/// the warnings, go to `summary` too.
pub(crate) fn etl(
    settings: &Settings,
    engine: &mut dyn Engine,
    schema: &Schema,
    sources: &[String],
    opts: &Options,
    summary: &mut Summary,
) -> Result<usize> {
    let sources = pick_sources(settings, sources)?;
    let mappers = mappers(settings, schema, &sources)?;
    if mappers
        .iter()
        .any(|m| m.secret.as_ref().is_some_and(|s| s.is_sample()))
    {
        settings.say(
            "note: pseudonymising with the sample's published secret (`.env`); \
             set your own WEIR_HASH_SECRET before loading real data",
        );
    }
    let started = now();
    let mut problems = Problems::default();
    let mut stats: Vec<SourceStats> = Vec::new();
    let mut opts = opts.clone();
    let engine_name = engine.kind().name();
    let mut tx = engine.begin_load()?;
    bookkeeping::ensure(tx.as_mut())?;
    opts.load_id = bookkeeping::next_load_id(tx.as_mut())?;
    if tx.shared() {
        opts.folder = folder_name(settings)?;
    }
    for m in &mappers {
        let source = load::load_source(m, &settings.root, Some(tx.as_mut()), &opts, &mut problems)?;
        stats.push(source);
    }
    let (total, per_source) = totals(&stats);
    let mut row = LoadRow {
        id: opts.load_id,
        started_at: &started,
        ended_at: &now(),
        engine: engine_name,
        status: if total.rejected > 0 { "partial" } else { "ok" },
        on_error: opts.on_error.name(),
        total: &total,
    };
    if !problems.list.is_empty() {
        // Dropping the load rolls it back: the database stays exactly as it was.
        drop(tx);
        let nothing = Tally {
            loaded: 0,
            superseded: 0,
            removed: 0,
            ..total.clone()
        };
        row.status = "failed";
        row.total = &nothing;
        for s in &stats {
            let t = Tally {
                loaded: 0,
                superseded: 0,
                removed: 0,
                ..s.tally.clone()
            };
            summary.sources.push(summary::Source::new(&s.source, &t));
        }
        // The failed run is noted in its own small transaction; if even that fails (a full
        // disk, say), the problems are what matters.
        let _ = record_failed(engine, &row, &per_source);
        return Err(failed(problems, opts.on_error, engine.kind()));
    }
    check_books(&stats)?;
    bookkeeping::record_load(tx.as_mut(), &row, &per_source)?;
    tx.commit()?;
    let rejected = say_books(settings, &stats, opts.load_id, summary);
    for d in load::unknown_values(&*engine, &mappers, &settings.root)? {
        settings.say(d.to_string().replacen("error: ", "warning: ", 1));
        summary.problem(Severity::Warning, &d);
    }
    Ok(rejected)
}

/// Every source's books balance: records read = written + rejected + superseded.
fn check_books(stats: &[SourceStats]) -> Result<()> {
    for s in stats {
        let t = &s.tally;
        if t.records_read != t.loaded + t.rejected + t.superseded {
            return Err(Error::Internal(anyhow::anyhow!(
                "the books of `{}` do not balance: {} read, {} loaded, {} rejected, {} superseded; \
                 nothing was loaded",
                s.source,
                t.records_read,
                t.loaded,
                t.rejected,
                t.superseded
            )));
        }
    }
    Ok(())
}

/// The problems of a load that wrote nothing, with what to do next.
fn failed(problems: Problems, on_error: OnError, kind: crate::engine::Kind) -> Error {
    let mut list = problems.into_diagnostics();
    list.push(Diagnostic::note(
        if kind == crate::engine::Kind::ClickHouse {
            // ClickHouse has no transaction: docs/CLICKHOUSE.md, "A failed or killed load".
            "nothing is recorded as loaded: rows already sent to ClickHouse stay (whole records, \
         children first), no removal is applied, and the next run-etl loads every file again"
        } else {
            "nothing was loaded; the database is unchanged"
        },
    ));
    if on_error == OnError::Fail {
        list.push(Diagnostic::note(
            "`--on-error quarantine` would set the bad records aside and load the rest",
        ));
    }
    Error::Problems(list)
}

/// Says what each source's load did, on stderr and in `summary`; returns how many records were
/// set aside.
fn say_books(
    settings: &Settings,
    stats: &[SourceStats],
    load_id: i64,
    summary: &mut Summary,
) -> usize {
    let mut rejected = 0;
    for s in stats {
        let mut warn = |file: &str, message: &str| {
            settings.say(format!("warning: skipped `{file}`: {message}"));
            let d = Diagnostic::new(format!("skipped: {message}")).at(Location::file(file));
            summary.problem(Severity::Warning, &d);
        };
        for file in &s.skipped {
            warn(
                file,
                "raw files end in .json, .jsonl, .ndjson, .yaml, .yml, .csv, .tsv or .xlsx",
            );
        }
        for file in &s.empty {
            warn(file, "it is empty");
        }
        for d in &s.rejected {
            let text = d.to_string();
            let line = text
                .strip_prefix("error: ")
                .map_or(text.clone(), |rest| format!("set aside: {rest}"));
            settings.say(line);
            summary.problem(Severity::Rejected, d);
        }
        rejected += s.tally.rejected;
        settings.say(source_line(s));
        summary
            .sources
            .push(summary::Source::new(&s.source, &s.tally));
    }
    if let Some(mb) = peak_memory_mb() {
        settings.detail(format!("peak memory {mb:.1} MB"));
    }
    if rejected > 0 {
        settings.say(format!(
            "{rejected} records set aside in the table weir_rejected (load {load_id}); fix them and run again"
        ));
    }
    rejected
}

/// One source's line: `loaded …` with its counts, or `unchanged …` when no file was read.
fn source_line(s: &SourceStats) -> String {
    let t = &s.tally;
    if t.files == 0 && t.files_unchanged > 0 && t.removed == 0 {
        return format!("unchanged {:<25} {:>4} files", s.source, t.files_unchanged);
    }
    let mut extra = String::new();
    if t.rejected > 0 {
        extra.push_str(&format!(" {:>6} rejected", t.rejected));
    }
    if t.removed > 0 {
        extra.push_str(&format!(" {:>6} removed", t.removed));
    }
    if t.files_unchanged > 0 {
        extra.push_str(&format!(" ({} files unchanged)", t.files_unchanged));
    }
    format!(
        "loaded {:<28} {:>4} files {:>7} records {:>7} written {:>6} superseded{extra}",
        s.source, t.files, t.records_read, t.loaded, t.superseded
    )
}

fn totals(stats: &[SourceStats]) -> (Tally, Vec<(String, Tally)>) {
    let mut total = Tally::default();
    for s in stats {
        total.add(&s.tally);
    }
    let per_source = stats
        .iter()
        .map(|s| (s.source.clone(), s.tally.clone()))
        .collect();
    (total, per_source)
}

fn record_failed(
    engine: &mut dyn Engine,
    row: &LoadRow,
    per_source: &[(String, Tally)],
) -> anyhow::Result<()> {
    let mut tx = engine.begin_load()?;
    bookkeeping::ensure(tx.as_mut())?;
    bookkeeping::record_load(tx.as_mut(), row, per_source)?;
    tx.commit()
}

/// The process's peak resident memory so far (Linux only; the benchmark reads it).
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

/// The name this folder's ledger goes by in a shared warehouse: WEIR_PROJECT, else the host's
/// name and the folder's absolute path (a copy elsewhere is another folder).
fn folder_name(settings: &Settings) -> Result<String> {
    if let Some(name) = settings.var("WEIR_PROJECT") {
        if name.is_empty() || name.contains("//") {
            return Err(Error::problem(
                Diagnostic::new(format!("WEIR_PROJECT `{name}` cannot name a folder"))
                    .field("WEIR_PROJECT")
                    .hint("use a name without `//`, such as `payments-team`"),
            ));
        }
        return Ok(name);
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map_or_else(|| "localhost".to_string(), |h| h.trim().to_string());
    let root = std::fs::canonicalize(&settings.root).unwrap_or_else(|_| settings.root.clone());
    let root = root.to_string_lossy().replace('\\', "/");
    Ok(format!("{host}:{}", root.trim_end_matches('/')))
}
