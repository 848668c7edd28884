//! `weir validate`: checks schemas, mappers, every raw record (incident YAML above all), every
//! query and the charts its header declares, and the checks of checks/, writing nothing: the database is a scratch one in
//! memory. Lists every problem, sorted by file and line, and exits 1 when there is one.
//!
//! Placeholders still to fill (`# to fill`, from `weir new-incident`) are warnings, not problems:
//! such an entry loads (its unknowns as NULL), and one postmortem in the writing must not fail a
//! check that gates the load of everything else. Each is named at its file, line and column.

use std::path::Path;

use crate::chart;
use crate::engine::{self, RowSink, Value};
use crate::error::{Diagnostic, Error, Location, Result};
use crate::load::{self, Problems};
use crate::mapper::Mapper;
use crate::postmortem;
use crate::report;
use crate::schema;
use crate::settings::Settings;
use crate::summary::{self, Checked, Severity, Summary};

/// Each source read goes to `summary`, with what was checked when all is well.
pub fn run(settings: &Settings, summary: &mut Summary) -> Result<()> {
    let mut scratch = engine::open(settings.engine, None, false, None)?;
    let schema = schema::read(&settings.root, scratch.as_ref()).map_err(Error::Problems)?;
    schema::ensure(scratch.as_mut(), &schema, false)?;
    // Queries are checked as reports run: on a database that refuses every change.
    scratch.read_only()?;
    let sources = super::run_etl::pick_sources(settings, &[])?;
    let mut problems = Vec::new();
    let mut mappers = Vec::new();
    for source in &sources {
        match super::run_etl::mappers(settings, &schema, std::slice::from_ref(source)) {
            Ok(m) => mappers.extend(m),
            Err(Error::Problems(p)) => problems.extend(p),
            Err(e) => return Err(e),
        }
    }
    let mut data = Problems::default();
    let mut records = 0;
    for m in &mappers {
        let opts = load::Options::default();
        let stats = load::load_source(m, &settings.root, None, &opts, &mut data)?;
        records += stats.tally.records_read;
        summary
            .sources
            .push(summary::Source::new(&stats.source, &stats.tally));
    }
    problems.extend(data.into_diagnostics());
    let mut placeholders = Vec::new();
    for m in &mappers {
        placeholders.extend(placeholders_of(m, &settings.root));
    }
    placeholders.sort_by(|a, b| a.location.cmp(&b.location));
    for d in &placeholders {
        settings.say(d.to_string().replacen("error: ", "warning: ", 1));
        summary.problem(Severity::Warning, d);
    }
    let reports = report::list(&settings.root, settings.engine.name())?;
    for r in &reports {
        match std::fs::read_to_string(&r.path) {
            Ok(sql) => {
                let compiles = match scratch.check_query(&sql) {
                    Ok(()) => true,
                    Err(e) => {
                        problems.push(
                            Diagnostic::new(format!("the query does not compile: {}", e.message))
                                .at(report::sql_location(&r.relative, &sql, &e)),
                        );
                        false
                    }
                };
                match chart::header(&r.relative, &sql) {
                    Ok(header) if compiles && !header.charts.is_empty() => {
                        // The columns, from the query run on the empty scratch database.
                        let mut columns = Columns::default();
                        let _ = scratch.query(&sql, &mut columns);
                        if let Some(columns) = columns.0 {
                            for c in &header.charts {
                                problems.extend(c.check(&r.relative, &r.name, &columns));
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(p) => problems.extend(p),
                }
            }
            Err(e) => problems.push(
                Diagnostic::new(format!("cannot read the query: {e}"))
                    .at(Location::file(&r.relative)),
            ),
        }
    }
    if crate::check::declared(&settings.root) {
        match crate::check::load(&settings.root, &schema.tables) {
            Ok(checks) => problems.extend(crate::check::compile(
                scratch.as_ref(),
                &checks,
                &schema.tables,
            )),
            Err(p) => problems.extend(p),
        }
    }
    let checked = Checked {
        tables: schema.tables.len(),
        mappers: mappers.len(),
        records,
        queries: reports.len(),
    };
    summary.checked = Some(checked.clone());
    if !problems.is_empty() {
        // Notes (`N more problems not shown`) close the list.
        problems.sort_by(|a, b| (a.note, &a.location).cmp(&(b.note, &b.location)));
        return Err(Error::Problems(problems));
    }
    let to_fill = match placeholders.len() {
        0 => String::new(),
        1 => "; 1 placeholder to fill".to_string(),
        n => format!("; {n} placeholders to fill"),
    };
    settings.say(format!(
        "ok: {} tables, {} mappers, {records} records, {} queries{to_fill}",
        checked.tables, checked.mappers, checked.queries
    ));
    Ok(())
}

/// The placeholders in the YAML raw files of `mapper`'s source (problems reading them are the
/// load's to report).
fn placeholders_of(mapper: &Mapper, root: &Path) -> Vec<Diagnostic> {
    let dir = root.join(mapper.raw_path());
    if !dir.exists() {
        return Vec::new();
    }
    let files = load::raw_files(&dir, root, &mut Problems::default(), &mut Vec::new());
    let mut out = Vec::new();
    for f in files {
        if f.path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
            && let Ok(text) = std::fs::read_to_string(&f.path)
        {
            out.extend(postmortem::placeholders(&f.relative, &text));
        }
    }
    out
}

/// Takes a report's column names and stops it before its first row.
#[derive(Default)]
struct Columns(Option<Vec<String>>);

impl RowSink for Columns {
    fn header(&mut self, columns: &[String]) -> anyhow::Result<()> {
        self.0 = Some(columns.to_vec());
        Ok(())
    }

    fn row(&mut self, _values: &[Value]) -> anyhow::Result<()> {
        anyhow::bail!("the columns are all validate reads")
    }
}
