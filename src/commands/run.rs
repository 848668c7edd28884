//! `weir run`: the main job. initialize, run-etl for every source, run-queries for every report,
//! on one database (so `--in-memory` needs no file at all).

use crate::error::Result;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<()> {
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    super::run_etl::etl(settings, engine.as_mut(), &schema, &[])?;
    super::run_queries::export(settings, engine.as_ref(), &[], crate::cli::Format::Csv)
}
