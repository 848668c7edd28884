//! `weir import DIR`: reads an export folder that `weir export` wrote and this project's
//! schemas/, checks every file against the manifest and every table against the schema (any
//! difference: nothing is written), makes missing tables as `weir initialize` does, then replaces
//! the rows of each exported table with the file's in one transaction. Tables the export does not
//! hold keep their rows; the ledger of loaded raw files is cleared in the same transaction, so a
//! later `weir run-etl` loads this project's raw_data/ again on top.

use std::path::Path;

use crate::bookkeeping;
use crate::engine;
use crate::error::{Diagnostic, Error, Result};
use crate::export::read::{self, Folder};
use crate::lock::{self, Mode};
use crate::schema;
use crate::settings::Settings;

pub fn run(settings: &Settings, dir: &Path) -> Result<()> {
    if settings.in_memory() {
        return Err(Error::problem(
            Diagnostic::new("an import into an in-memory database is gone when weir ends")
                .hint("import into a file database: leave out `--in-memory`"),
        ));
    }
    let dir = settings.root.join(dir);
    let shown = crate::load::relative_path(&dir, &settings.root);
    let folder = Folder {
        dir: &dir,
        shown: &shown,
    };
    let manifest = read::manifest(&folder)?;
    // The schema as this engine declares it, read on a scratch database: nothing, not even the
    // database file, is made before the export is checked.
    let scratch = engine::open(settings.engine, None, false, None)?;
    let declared = schema::read(&settings.root, scratch.as_ref()).map_err(Error::Problems)?;
    let plans = read::verify(&folder, &manifest, &declared)?;

    let _db = lock::database(settings, Mode::Exclusive, "import")?;
    let (mut engine, schema) = super::open(settings)?;
    schema::ensure(engine.as_mut(), &schema, false)?;
    let mut load = engine.begin_load()?;
    bookkeeping::forget_files(load.as_mut())?;
    let mut rows = 0;
    for plan in &plans {
        let n = read::load(load.as_mut(), &folder, plan)?;
        settings.detail(format!("imported `{}` ({n} rows)", plan.table.name));
        rows += n;
    }
    load.commit()?;
    settings.say(format!(
        "imported {} tables ({rows} rows) from {shown}",
        plans.len()
    ));
    Ok(())
}
