//! `weir export --to DIR [--tables T…] [--parquet]`: reads every table of the database that
//! schemas/ declares (or those named) and the mappers, and writes DIR: `<table>.csv` each (and
//! `<table>.parquet` with `--parquet`, DuckDB only) and `manifest.json`. DIR is made whole beside
//! itself and renamed into place; a folder that is not empty is refused unless `--force` and it
//! holds an earlier export. Nothing in the project changes.

use std::path::Path;

use crate::error::Result;
use crate::export::manifest::{self, Manifest};
use crate::export::{self, Staging, privacy};
use crate::lock::{self, Mode};
use crate::mapper;
use crate::schema;
use crate::settings::Settings;

/// What `weir export` was asked to do.
pub struct Options<'a> {
    /// The folder to write, as given (relative to the project folder).
    pub to: &'a Path,
    pub tables: &'a [String],
    pub parquet: bool,
    pub force: bool,
}

pub fn run(settings: &Settings, opts: &Options) -> Result<()> {
    super::loaded_database(
        settings,
        "export",
        &super::NoData {
            empty: "nothing loads into it",
            in_memory: "export a file database (`weir run` first)",
            missing: "make it with `weir run` (or `weir initialize` and `weir run-etl`)",
        },
    )?;
    let _db = lock::database(settings, Mode::Shared, "export")?;
    let (engine, schema) = super::open_with(settings, true)?;
    schema::check(engine.as_ref(), &schema)?;
    let tables = export::select(&schema.tables, opts.tables)?;
    let sources = mapper::sources(&settings.path("mappers")).map_err(anyhow::Error::from)?;
    let mappers = super::run_etl::read_mappers(settings, &schema, &sources, None)?;
    let private = privacy::columns(&mappers);

    let to = settings.root.join(opts.to);
    let shown = crate::load::relative_path(&to, &settings.root);
    let staging = Staging::begin(&to, &shown, opts.force)?;
    let mut entries = Vec::new();
    for t in &tables {
        let none = privacy::Columns::default();
        let entry = export::write::table(
            engine.as_ref(),
            t,
            &staging.dir,
            private.get(&t.name).unwrap_or(&none),
            opts.parquet,
        )?;
        settings.detail(format!(
            "wrote {shown}/{} ({} rows)",
            entry.file, entry.rows
        ));
        entries.push(entry);
    }
    let rows: u64 = entries.iter().map(|e| e.rows).sum();
    let m = Manifest {
        format: manifest::FORMAT.into(),
        version: manifest::VERSION,
        weir_version: env!("CARGO_PKG_VERSION").into(),
        exported_at: settings.now()?.to_string(),
        tables: entries,
    };
    write_manifest(&staging.dir, &m)?;
    staging
        .publish()
        .map_err(|e| e.context(format!("cannot put the export in place at `{shown}`")))?;
    settings.say(format!(
        "exported {} tables ({rows} rows) to {shown}",
        m.tables.len()
    ));
    Ok(())
}

fn write_manifest(dir: &Path, m: &Manifest) -> Result<()> {
    let mut text = serde_json::to_string_pretty(m).map_err(anyhow::Error::from)?;
    text.push('\n');
    let path = dir.join(manifest::FILE);
    let write = || -> std::io::Result<()> {
        std::fs::write(&path, &text)?;
        std::fs::File::open(&path)?.sync_all()
    };
    write().map_err(|e| anyhow::Error::from(e).context("cannot write the manifest"))?;
    Ok(())
}
