//! `weir run-etl [SOURCE...]`: loads raw_data/<SOURCE>/ through mappers/<SOURCE>.yaml into the
//! database, in one transaction: every record is written, or, on any problem, nothing is.

use crate::engine::Engine;
use crate::error::{Diagnostic, Error, Location, Result, did_you_mean};
use crate::load::{self, Problems, SourceStats};
use crate::mapper::{self, Mapper};
use crate::schema::Schema;
use crate::settings::Settings;

pub fn run(settings: &Settings, sources: &[String]) -> Result<()> {
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    let mut sources = sources.to_vec();
    if sources.is_empty()
        && let Some(dir) = settings.var("DIRECTORY_PATH")
    {
        sources.push(dir);
    }
    etl(settings, engine.as_mut(), &schema, &sources)
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

/// Reads and checks the mapper of each source against the schema.
pub(crate) fn mappers(
    settings: &Settings,
    schema: &Schema,
    sources: &[String],
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
        let shown = format!(
            "mappers/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        match mapper::load(
            source,
            &path,
            &shown,
            &schema.tables,
            &settings.path("schemas"),
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

/// Loads `sources` (all when empty) in one transaction.
pub(crate) fn etl(
    settings: &Settings,
    engine: &mut dyn Engine,
    schema: &Schema,
    sources: &[String],
) -> Result<()> {
    let sources = pick_sources(settings, sources)?;
    let mappers = mappers(settings, schema, &sources)?;
    let mut problems = Problems::default();
    let mut stats: Vec<SourceStats> = Vec::new();
    {
        let mut tx = engine.begin_load()?;
        for m in &mappers {
            stats.push(load::load_source(
                m,
                &settings.root,
                Some(tx.as_mut()),
                &mut problems,
            )?);
        }
        if !problems.list.is_empty() {
            // Dropping the load rolls it back: the database stays exactly as it was.
            drop(tx);
            let mut list = problems.into_diagnostics();
            list.push(Diagnostic::note(
                "nothing was loaded; the database is unchanged",
            ));
            return Err(Error::Problems(list));
        }
        tx.commit()?;
    }
    for s in &stats {
        for file in &s.skipped {
            settings.say(format!(
                "warning: skipped `{file}`: raw files end in .json, .jsonl, .ndjson, .yaml or .yml"
            ));
        }
        let removed = if s.removed > 0 {
            format!(" {:>6} removed", s.removed)
        } else {
            String::new()
        };
        settings.say(format!(
            "loaded {:<28} {:>4} files {:>7} records {:>7} written {:>6} superseded{removed}",
            s.source, s.files, s.records, s.written, s.superseded
        ));
    }
    Ok(())
}
