//! `weir run-queries [NAME...]`: runs queries/<NAME>.sql (all when none is named) and writes
//! output/<NAME>.csv (or .json, .parquet with `--format`) for each.

use crate::cli::Format;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::report;
use crate::settings::Settings;

pub fn run(settings: &Settings, names: &[String], format: Format) -> Result<()> {
    let (mut engine, schema) = super::open(settings)?;
    // Against a new database the reports still run, on empty tables.
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
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
