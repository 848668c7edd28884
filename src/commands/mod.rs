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
    let engine = engine::open(
        settings.engine,
        settings.db.as_deref(),
        read_only,
        settings.duckdb_memory,
    )?;
    let schema =
        schema::read(&settings.root, engine.as_ref()).map_err(crate::error::Error::Problems)?;
    Ok((engine, schema))
}
