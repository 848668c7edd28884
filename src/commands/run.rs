//! `weir run`: the main job. initialize, run-etl for every source, run-queries for every report,
//! then the checks of checks/ (unless `--no-checks`), on one database (so `--in-memory` needs no
//! file at all). Reports and checks read through a connection that refuses every change; the
//! checks' results are recorded in weir_checks on a read-write one opened after.

use crate::error::{Error, Result};
use crate::load::Options;
use crate::lock::{self, Mode};
use crate::report::Export;
use crate::settings::Settings;
use crate::summary::Summary;

pub fn run(
    settings: &Settings,
    opts: &Options,
    export: &Export,
    checks: bool,
    summary: &mut Summary,
) -> Result<()> {
    let _db = lock::database(settings, Mode::Exclusive, "run")?;
    let _raw = lock::raw_data(settings, Mode::Shared, "run")?;
    let (mut engine, schema) = super::open(settings)?;
    super::initialize::apply(settings, engine.as_mut(), &schema, false)?;
    let rejected = super::run_etl::etl(settings, engine.as_mut(), &schema, &[], opts, summary)?;
    engine.read_only()?;
    super::run_queries::export(settings, engine.as_ref(), &[], export, summary)?;
    let judged = if checks && crate::check::declared(&settings.root) {
        Some(super::check::judge(
            settings,
            engine.as_ref(),
            &schema,
            &[],
            summary,
        )?)
    } else {
        None
    };
    drop(engine);
    let partial = super::run_etl::partial(rejected);
    let Some(judged) = judged else {
        return partial;
    };
    let record = super::check::record(settings, &judged);
    // Failed checks (4) outrank records set aside (3): the data that did load is wanting.
    match super::check::recorded(settings, record, super::check::verdict(&judged.outcomes)) {
        Err(e) => {
            if let Err(Error::Partial(p)) = partial {
                settings.say(format!("warning: {p}"));
            }
            Err(e)
        }
        Ok(()) => partial,
    }
}
