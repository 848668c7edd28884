//! `weir run`: the main job. initialize, run-etl for every source, run-queries for every report,
//! on one database (so `--in-memory` needs no file at all).

use crate::error::Result;
use crate::load::Options;
use crate::lock::{self, Mode};
use crate::report::Export;
use crate::settings::Settings;
use crate::summary::Summary;

pub fn run(
    settings: &Settings,
    opts: &Options,
    export: &Export,
    summary: &mut Summary,
) -> Result<()> {
    let _db = lock::database(settings, Mode::Exclusive, "run")?;
    let _raw = lock::raw_data(settings, Mode::Shared, "run")?;
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    let rejected = super::run_etl::etl(settings, engine.as_mut(), &schema, &[], opts, summary)?;
    engine.read_only()?;
    super::run_queries::export(settings, engine.as_ref(), &[], export, summary)?;
    super::run_etl::partial(rejected)
}
