//! `weir check [--select NAME...]`: reads checks/*.yaml and checks/*.sql, runs each check on a
//! read-only connection, prints a line per check, writes output/checks.csv and the failing rows
//! to output/check_failures/, then records the results in `weir_checks` on a read-write
//! connection opened after the reading is done. Exits with 4 when a check of severity `error`
//! fails.

use crate::bookkeeping::{self, CheckRow};
use crate::check::{self, Outcome, Status};
use crate::engine::{self, Engine};
use crate::error::{Diagnostic, Error, Location, Result};
use crate::lock::{self, Mode};
use crate::schema::{self, Schema};
use crate::settings::Settings;
use crate::summary::{CheckResult, Summary, Written};

pub fn run(settings: &Settings, select: &[String], summary: &mut Summary) -> Result<()> {
    super::loaded_database(
        settings,
        "check",
        &super::NoData {
            empty: "nothing loads into it, so there is no data to check",
            in_memory: "use `weir run --in-memory` to load and check in one go, or a file database (`weir run-etl` first)",
            missing: "make it with `weir initialize` and `weir run-etl`, or run everything with `weir run`",
        },
    )?;
    if !check::declared(&settings.root) {
        return Err(Error::problem(
            Diagnostic::new("there are no checks")
                .at(Location::file("checks/"))
                .hint("declare some in `checks/<name>.yaml`; docs/CHECKS.md shows how"),
        ));
    }
    // Exclusive: the results are written to weir_checks at the end.
    let _db = lock::database(settings, Mode::Exclusive, "check")?;
    let judged = {
        let (engine, schema) = super::open_with(settings, true)?;
        schema::check(engine.as_ref(), &schema)?;
        judge(settings, engine.as_ref(), &schema, select, summary)?
    };
    recorded(
        settings,
        record(settings, &judged),
        verdict(&judged.outcomes),
    )
}

/// The exit of a judged run: failed checks (4) outrank a failure to record them in weir_checks,
/// which is then a warning; output/checks.csv already holds the results.
pub(crate) fn recorded(settings: &Settings, record: Result<()>, verdict: Result<()>) -> Result<()> {
    match (record, verdict) {
        (Err(e), Err(v)) => {
            settings.say(format!("warning: the results are not in weir_checks: {e}"));
            Err(v)
        }
        (Err(e), Ok(())) => Err(e),
        (Ok(()), v) => v,
    }
}

/// What a run of checks found, and the time it judged by.
pub(crate) struct Judged {
    pub outcomes: Vec<Outcome>,
    pub now: jiff::Timestamp,
}

/// Runs the checks (those `select` names, or all) on `engine`, which only reads, prints their
/// lines and writes their files.
pub(crate) fn judge(
    settings: &Settings,
    engine: &dyn Engine,
    schema: &Schema,
    select: &[String],
    summary: &mut Summary,
) -> Result<Judged> {
    let now = settings.now()?;
    let checks = check::load(&settings.root, &schema.tables).map_err(Error::Problems)?;
    let checks = check::select(checks, select).map_err(Error::Problems)?;
    let outcomes = check::run(engine, &checks, &schema.tables, now)?;
    for o in &outcomes {
        let mut line = format!("{:<5} {}", o.status.name(), o.name);
        if !o.detail.is_empty() {
            line.push_str(": ");
            line.push_str(&o.detail);
        }
        settings.say(line);
    }
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    settings.say(format!(
        "checks: {} passed, {} warned, {} failed",
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Error)
    ));
    let written = check::output::write(&settings.path("output"), &outcomes, select.is_empty())?;
    for (path, rows) in written {
        settings.detail(format!("wrote {path} ({rows} rows)"));
        summary.files.push(Written {
            path,
            rows: Some(rows),
        });
    }
    settings.say("wrote output/checks.csv");
    summary.checks = Some(
        outcomes
            .iter()
            .map(|o| CheckResult {
                check: o.name.clone(),
                table: o.table.clone(),
                kind: o.kind.to_string(),
                severity: o.severity.name().to_string(),
                status: o.status.name().to_string(),
                failing_rows: o.failing_rows,
            })
            .collect(),
    );
    Ok(Judged { outcomes, now })
}

/// Records the results in `weir_checks`, on a read-write connection of its own: the checks ran
/// on one that refuses every change. A database in memory is gone when weir ends: nothing to
/// record.
pub(crate) fn record(settings: &Settings, judged: &Judged) -> Result<()> {
    if settings.in_memory() {
        return Ok(());
    }
    let mut engine = match &settings.server {
        Some(server) => engine::open_server(server, false)?,
        None => engine::open(
            settings.engine,
            settings.db.as_deref(),
            false,
            settings.duckdb_memory,
        )?,
    };
    let rows: Vec<CheckRow> = judged
        .outcomes
        .iter()
        .map(|o| CheckRow {
            name: &o.name,
            table: &o.table,
            kind: o.kind,
            severity: o.severity.name(),
            status: o.status.name(),
            failing_rows: o.failing_rows,
        })
        .collect();
    let mut load = engine.begin_load()?;
    bookkeeping::record_checks(load.as_mut(), &judged.now.to_string(), &rows)?;
    load.commit()?;
    Ok(())
}

/// Exit 4 when a check of severity `error` failed.
pub(crate) fn verdict(outcomes: &[Outcome]) -> Result<()> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| o.status == Status::Error)
        .map(|o| format!("`{}`", o.name))
        .collect();
    match failed.len() {
        0 => Ok(()),
        1 => Err(Error::ChecksFailed(format!("check {} failed", failed[0]))),
        n => Err(Error::ChecksFailed(format!(
            "{n} checks failed: {}",
            failed.join(", ")
        ))),
    }
}
