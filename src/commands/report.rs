//! `weir report [NAME...]`: runs the reports in queries/ (all when none is named), draws the
//! charts their header comments declare, and writes one self-contained page,
//! output/report.html, with each report's description, charts and table. Reads the database
//! as run-queries does; writes the page to a temporary file and renames it, and writes nothing
//! when any report or chart declaration has a problem.

use anyhow::Context;

use crate::chart::{self, Data};
use crate::engine::{Collected, Engine, QueryError, Value};
use crate::error::{Diagnostic, Error, Location, Result};
use crate::html::{self, About, Section};
use crate::lock::{self, Mode};
use crate::report;
use crate::schema;
use crate::settings::Settings;

/// The page, in output/.
pub const FILE: &str = "report.html";

pub fn run(settings: &Settings, names: &[String]) -> Result<()> {
    let db = super::loaded_database(
        settings,
        "report",
        &super::NoData {
            empty: "nothing loads into it, so every report would be empty",
            in_memory: "load a file database first (`weir run`, or `weir run-etl`), then `weir report`",
            missing: "make it with `weir run` (or `weir initialize` and `weir run-etl`), then `weir report`",
        },
    )?;
    let _db = lock::database(settings, Mode::Shared, "report")?;
    // Reports run on a read-only connection, so a query cannot change data.
    let (engine, schema) = super::open_with(settings, true)?;
    schema::check(engine.as_ref(), &schema)?;
    let reports = report::select(report::list(&settings.root, engine.kind().name())?, names)
        .map_err(Error::Problems)?;

    // Every declaration is read before any query runs, so a typo costs no wait.
    let mut problems = Vec::new();
    let mut read = Vec::new();
    for r in &reports {
        let sql = match std::fs::read_to_string(&r.path) {
            Ok(sql) => sql,
            Err(e) => {
                problems.push(
                    Diagnostic::new(format!("cannot read the query: {e}"))
                        .at(Location::file(&r.relative)),
                );
                continue;
            }
        };
        match chart::header(&r.relative, &sql) {
            Ok(header) => read.push((r, sql, header)),
            Err(p) => problems.extend(p),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Problems(problems));
    }

    let mut sections = Vec::new();
    for (r, sql, header) in read {
        let (columns, rows) = rows(engine.as_ref(), r, &sql)?;
        let mut charts = Vec::new();
        for c in &header.charts {
            let found = c.check(&r.relative, &r.name, &columns);
            if !found.is_empty() {
                problems.extend(found);
                continue;
            }
            match Data::read(c, &r.relative, &columns, &rows) {
                Ok(data) => charts.push((c.clone(), data)),
                Err(d) => problems.push(*d),
            }
        }
        sections.push(Section {
            name: r.name.clone(),
            file: r.relative.clone(),
            header,
            columns,
            rows,
            charts,
        });
    }
    if !problems.is_empty() {
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        problems.push(Diagnostic::note(format!("output/{FILE} was not written")));
        return Err(Error::Problems(problems));
    }

    let about = About {
        database: format!(
            "{} ({})",
            db,
            match engine.kind() {
                crate::engine::Kind::Sqlite => "SQLite",
                crate::engine::Kind::DuckDb => "DuckDB",
                crate::engine::Kind::ClickHouse => "ClickHouse",
            }
        ),
        made: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
    };
    let page = html::page(&sections, &about);
    write(&settings.path("output"), &page)?;
    let charts: usize = sections.iter().map(|s| s.charts.len()).sum();
    settings.say(format!(
        "wrote output/{FILE} ({}, {})",
        html::count(sections.len(), "report"),
        html::count(charts, "chart")
    ));
    Ok(())
}

/// A report's columns and rows.
type Table = (Vec<String>, Vec<Vec<Value>>);

fn rows(engine: &dyn Engine, r: &report::Report, sql: &str) -> Result<Table> {
    let mut sink = Collected::default();
    engine.query(sql, &mut sink).map_err(|e| match e {
        QueryError::Sql(e) => Error::problem(
            Diagnostic::new(format!("the query failed: {}", e.message))
                .at(report::sql_location(&r.relative, sql, &e))
                .hint("fix the SQL; `weir validate` checks every query"),
        ),
        QueryError::Unsupported(message) => {
            Error::problem(Diagnostic::new(message).at(Location::file(&r.relative)))
        }
        QueryError::Sink(e) => Error::Internal(e),
    })?;
    Ok((sink.columns, sink.rows))
}

/// Writes the page to a temporary file beside it and renames it, so a browser never opens half
/// a page.
fn write(output: &std::path::Path, page: &str) -> Result<()> {
    std::fs::create_dir_all(output)
        .with_context(|| format!("cannot create `{}`", output.display()))?;
    let target = output.join(FILE);
    if let Err(e) = crate::atomic::write(&target, page.as_bytes()) {
        return Err(Error::Internal(anyhow::Error::new(e).context(format!(
            "cannot write `{}`: check that output/ can be written and the disk has room",
            target.display()
        ))));
    }
    Ok(())
}
