//! `weir run-queries [NAME...]`: runs queries/<NAME>.sql (all when none is named) and writes
//! output/<NAME>.csv for each.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::report;
use crate::settings::Settings;

pub fn run(settings: &Settings, names: &[String]) -> Result<()> {
    let (mut engine, schema) = super::open(settings)?;
    // Against a new database the reports still run, on empty tables.
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    export(settings, engine.as_ref(), names)
}

pub(crate) fn export(settings: &Settings, engine: &dyn Engine, names: &[String]) -> Result<()> {
    let reports =
        report::select(report::list(&settings.root, "sqlite")?, names).map_err(Error::Problems)?;
    let output = settings.path("output");
    for r in &reports {
        let rows = report::write(engine, r, &output)?;
        settings.say(format!("wrote output/{}.csv ({rows} rows)", r.name));
    }
    Ok(())
}
