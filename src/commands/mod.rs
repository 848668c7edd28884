//! One file per verb. Each gets resolved `Settings`; `run` chains the others on one database.

pub mod check;
pub mod completions;
pub mod docs;
pub mod export;
pub mod extract;
pub mod extract_singer;
pub mod import;
pub mod infer;
pub mod initialize;
pub mod new_incident;
pub mod report;
pub mod run;
pub mod run_etl;
pub mod run_queries;
pub mod scan_pii;
pub mod validate;

use crate::engine::{self, Engine};
use crate::error::Result;
use crate::schema::{self, Schema};
use crate::settings::Settings;

/// What a command that only reads says when there is no data to read.
pub(crate) struct NoData<'a> {
    /// Why an in-memory database cannot serve (`nothing loads into it, …`).
    pub empty: &'a str,
    /// The fix for `--in-memory`.
    pub in_memory: &'a str,
    /// The fix for a database file not made yet.
    pub missing: &'a str,
}

/// The database file a reader (`check`, `report`, `run-queries`, `export`, `scan-pii`) reads:
/// never `--in-memory`, where nothing is loaded, and never one it would have to make.
/// Returns how to name the database to the user.
pub(crate) fn loaded_database(settings: &Settings, verb: &str, no: &NoData) -> Result<String> {
    use crate::error::{Diagnostic, Error, Location};
    if let Some(server) = &settings.server {
        return Ok(server.to_string());
    }
    let Some(db) = &settings.db else {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "an in-memory database is empty in {verb}: {}",
                no.empty
            ))
            .hint(no.in_memory),
        ));
    };
    if !db.exists() {
        return Err(Error::problem(
            Diagnostic::new("the database does not exist")
                .at(Location::file(crate::load::relative_path(
                    db,
                    &settings.root,
                )))
                .hint(no.missing),
        ));
    }
    Ok(crate::load::relative_path(db, &settings.root))
}

/// Opens the database and reads the schema files.
pub(crate) fn open(settings: &Settings) -> Result<(Box<dyn Engine>, Schema)> {
    open_with(settings, false)
}

/// `open`, read-only when asked.
pub(crate) fn open_with(settings: &Settings, read_only: bool) -> Result<(Box<dyn Engine>, Schema)> {
    if let Some(db) = &settings.db
        && let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Err(crate::error::Error::problem(
            crate::error::Diagnostic::new("the database's folder does not exist")
                .at(crate::error::Location::file(db.display().to_string()))
                .hint("create the folder, or pass another `--db PATH`"),
        ));
    }
    let engine = match &settings.server {
        Some(server) => engine::open_server(server, read_only)?,
        None => engine::open(
            settings.engine,
            settings.db.as_deref(),
            read_only,
            settings.duckdb_memory,
        )?,
    };
    let schema =
        schema::read(&settings.root, engine.as_ref()).map_err(crate::error::Error::Problems)?;
    Ok((engine, schema))
}
