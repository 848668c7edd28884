//! `weir run-queries [NAME...]`: runs queries/<NAME>.sql (all when none is named) and writes
//! output/<NAME>.csv (or .json, .parquet with `--format`) for each, or with `--format xlsx` one
//! workbook, output/reports.xlsx (`--workbook`), with a sheet each.

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::lock::{self, Mode};
use crate::report::{self, Export, Format};
use crate::schema;
use crate::settings::Settings;
use crate::summary::{Summary, Written};

pub fn run(
    settings: &Settings,
    names: &[String],
    export: &Export,
    summary: &mut Summary,
) -> Result<()> {
    // A reader: it never makes a database, and reports on one only where it holds data.
    super::loaded_database(
        settings,
        "run-queries",
        &super::NoData {
            empty: "nothing loads into it, so every report would be empty",
            in_memory: "use `weir run --in-memory` to load and report in one go, or a file database (`weir run-etl` first)",
            missing: "make it with `weir initialize` and `weir run-etl`, or run everything with `weir run`",
        },
    )?;
    let _db = lock::database(settings, Mode::Shared, "run-queries")?;
    // Reports run on a read-only connection, so a query cannot change data.
    let (engine, schema) = super::open_with(settings, true)?;
    schema::check(engine.as_ref(), &schema)?;
    self::export(settings, engine.as_ref(), names, export, summary)
}

pub(crate) fn export(
    settings: &Settings,
    engine: &dyn Engine,
    names: &[String],
    export: &Export,
    summary: &mut Summary,
) -> Result<()> {
    let reports = report::select(report::list(&settings.root, engine.kind().name())?, names)
        .map_err(Error::Problems)?;
    let output = settings.path("output");
    let format = export.format;
    if format == Format::Xlsx {
        let file = &export.workbook;
        let mut total = 0;
        for sheet in report::write_workbook(engine, &reports, &output, file)? {
            settings.say(format!(
                "wrote output/{file}, sheet {} ({} rows)",
                sheet.sheet, sheet.rows
            ));
            total += sheet.rows;
        }
        summary.files.push(Written {
            path: format!("output/{file}"),
            rows: Some(total as _),
        });
        return Ok(());
    }
    for r in &reports {
        let file = format!("output/{}.{}", r.name, format.extension());
        let rows = report::write(engine, r, &output, format)?;
        match rows {
            Some(rows) => settings.say(format!("wrote {file} ({rows} rows)")),
            None => settings.say(format!("wrote {file}")),
        }
        summary.files.push(Written { path: file, rows });
    }
    Ok(())
}
