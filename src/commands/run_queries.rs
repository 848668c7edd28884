//! `weir run-queries [NAME...]`: runs queries/<NAME>.sql (all when none is named) and writes
//! output/<NAME>.csv (or .json, .parquet with `--format`) for each.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lock::{self, Mode};
use crate::report::{self, Format};
use crate::schema;
use crate::settings::Settings;

pub fn run(settings: &Settings, names: &[String], format: Format) -> Result<()> {
    let _db = lock::database(settings, Mode::Shared, "run-queries")?;
    // Reports run on a read-only connection, so a query cannot change data. Against a new
    // database they still run, on empty tables created first.
    let exists = settings.db.as_ref().is_some_and(|p| p.exists());
    let (mut engine, schema) = super::open_with(settings, exists)?;
    if !exists {
        super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
        engine.read_only()?;
    } else {
        schema::check(engine.as_ref(), &schema)?;
    }
    export(settings, engine.as_ref(), names, format)
}

pub(crate) fn export(
    settings: &Settings,
    engine: &dyn Engine,
    names: &[String],
    format: Format,
) -> Result<()> {
    let reports = report::select(report::list(&settings.root, engine.kind().name())?, names)
        .map_err(Error::Problems)?;
    let output = settings.path("output");
    for r in &reports {
        let file = format!("output/{}.{}", r.name, format.extension());
        match report::write(engine, r, &output, format)? {
            Some(rows) => settings.say(format!("wrote {file} ({rows} rows)")),
            None => settings.say(format!("wrote {file}")),
        }
    }
    Ok(())
}
