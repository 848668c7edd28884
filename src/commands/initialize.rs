//! `weir initialize`: reads schemas/*.sql and creates the tables the database lacks; with
//! `--recreate`, drops and rebuilds them. Refuses, naming table and columns, when the tables on
//! disk differ from the schema files.

use crate::engine::Engine;
use crate::error::Result;
use crate::lock::{self, Mode};
use crate::schema::{self, Schema};
use crate::settings::Settings;

pub fn run(settings: &Settings, recreate: bool) -> Result<()> {
    let _db = lock::database(settings, Mode::Exclusive, "initialize")?;
    let (mut engine, schema) = super::open(settings)?;
    apply(settings, engine.as_mut(), &schema, recreate)
}

pub(crate) fn apply(
    settings: &Settings,
    engine: &mut dyn Engine,
    schema: &Schema,
    recreate: bool,
) -> Result<()> {
    let created = schema::ensure(engine, schema, recreate)?;
    let verb = if recreate { "rebuilt" } else { "created" };
    settings.detail(format!(
        "{} tables in {} schema files; {verb} {created}",
        schema.tables.len(),
        schema.files.len()
    ));
    Ok(())
}
