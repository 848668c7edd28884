//! `weir run`: the main job. initialize, run-etl for every source, run-queries for every report,
//! on one database (so `--in-memory` needs no file at all).

use crate::cli::EtlArgs;
use crate::error::Result;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &EtlArgs) -> Result<()> {
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    let rejected = super::run_etl::etl(settings, engine.as_mut(), &schema, &[], args)?;
    super::run_queries::export(settings, engine.as_ref(), &[], crate::cli::Format::Csv)?;
    super::run_etl::partial(rejected)
}
