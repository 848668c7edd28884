//! Exports for a side of lower privilege (issue 16, the GitLab pattern): the tables of the
//! database as CSV files in one folder with `manifest.json`, made whole in a folder beside the
//! target and renamed into place, so no reader ever sees half an export; and the checks and load
//! of `weir import`. The CSV is one text on every engine (`csv`), so a table's hash is too.
//!
//! weir's own `weir_*` tables are never exported: the ledger describes the raw files of this
//! database (another one would skip files it never loaded) and `weir_rejected` holds raw records
//! as the vendor sent them, which is what a lower side must not get.
//!
//! This module names no engine: it reads through `Engine::query` and writes through `Load`.

pub mod csv;
pub mod manifest;
pub mod privacy;
pub mod read;
pub mod write;

use std::path::{Path, PathBuf};

use crate::engine::Table;
use crate::error::{Diagnostic, Error, Location, Result, did_you_mean};

/// The tables named by `--tables` (every declared table when none is), in schema order.
pub fn select<'t>(tables: &'t [Table], names: &[String]) -> Result<Vec<&'t Table>> {
    let mut problems = Vec::new();
    for n in names {
        if tables.iter().any(|t| &t.name == n) {
            continue;
        }
        let mut d = Diagnostic::new(format!("no table `{n}` in schemas/")).field("--tables");
        d.hint = if n.starts_with("weir_") {
            Some(
                "weir's own tables stay with the database: they describe its raw files and hold \
                 quarantined raw records"
                    .into(),
            )
        } else {
            did_you_mean(n, tables.iter().map(|t| t.name.as_str())).or_else(|| {
                Some(format!(
                    "the tables are: {}",
                    tables
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        };
        problems.push(d);
    }
    if !problems.is_empty() {
        return Err(Error::Problems(problems));
    }
    Ok(tables
        .iter()
        .filter(|t| names.is_empty() || names.contains(&t.name))
        .collect())
}

/// An export being made: the folder it is written into, beside the one it will become.
/// Dropped before `publish`, it takes the folder and everything in it away.
pub struct Staging {
    pub dir: PathBuf,
    to: PathBuf,
    /// Where an earlier export waits while the new one takes its place.
    aside: PathBuf,
    /// `to` holds an earlier export, which `publish` replaces.
    replace: bool,
    published: bool,
}

impl Staging {
    /// Checks that `to` (shown as `shown`) can take an export and makes the folder beside it. A
    /// folder that is not empty is refused, unless `force` and it holds an earlier export (a
    /// `manifest.json`): `--force` never deletes a folder weir did not write.
    pub fn begin(to: &Path, shown: &str, force: bool) -> Result<Staging> {
        let at = || Location::file(shown);
        let Some(name) = to.file_name().and_then(|n| n.to_str()) else {
            return Err(Error::problem(
                Diagnostic::new("`--to` names no folder")
                    .at(at())
                    .hint("name the folder to write, such as `--to export`"),
            ));
        };
        let mut replace = false;
        if to.is_file() {
            return Err(Error::problem(
                Diagnostic::new("is a file, not a folder")
                    .at(at())
                    .hint("name a new folder for the export"),
            ));
        }
        if to.is_dir() {
            let empty = std::fs::read_dir(to)
                .map_err(anyhow::Error::from)?
                .next()
                .is_none();
            if !empty {
                if !force {
                    return Err(Error::problem(
                        Diagnostic::new("the folder is not empty").at(at()).hint(
                            "pass `--force` to replace an earlier export, or name a new folder",
                        ),
                    ));
                }
                if !to.join(manifest::FILE).is_file() {
                    return Err(Error::problem(
                        Diagnostic::new(format!(
                            "the folder holds no `{}`: it is not an export, and `--force` replaces only an export",
                            manifest::FILE
                        ))
                        .at(at())
                        .hint("name a new folder for the export"),
                    ));
                }
            }
            replace = true;
        }
        let parent = match to.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| anyhow::Error::from(e).context(format!("cannot create `{shown}`")))?;
        let dir = parent.join(format!(".{name}.weir-export-{}", std::process::id()));
        if dir.exists() {
            // Left by a weir of the same process id that was killed; it is ours by its name.
            std::fs::remove_dir_all(&dir).map_err(anyhow::Error::from)?;
        }
        std::fs::create_dir(&dir)
            .map_err(|e| anyhow::Error::from(e).context(format!("cannot create `{shown}`")))?;
        Ok(Staging {
            dir,
            to: to.to_path_buf(),
            aside: parent.join(format!(".{name}.weir-replaced-{}", std::process::id())),
            replace,
            published: false,
        })
    }

    /// Renames the finished folder into place. An earlier export is moved aside first and
    /// deleted after: at no moment does the target hold part of an export (for a moment it does
    /// not exist).
    pub fn publish(mut self) -> anyhow::Result<()> {
        sync_dir(&self.dir);
        if self.replace {
            let aside = self.aside.clone();
            if self.to.join(manifest::FILE).is_file() {
                std::fs::rename(&self.to, &aside)?;
                if let Err(e) = std::fs::rename(&self.dir, &self.to) {
                    // Put the earlier export back rather than leave nothing.
                    let _ = std::fs::rename(&aside, &self.to);
                    return Err(e.into());
                }
                self.published = true;
                std::fs::remove_dir_all(&aside)?;
            } else {
                // An empty folder (checked in `begin`).
                std::fs::remove_dir(&self.to)?;
                std::fs::rename(&self.dir, &self.to)?;
                self.published = true;
            }
        } else {
            std::fs::rename(&self.dir, &self.to)?;
            self.published = true;
        }
        if let Some(parent) = self.to.parent() {
            sync_dir(parent);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Makes a folder's entries durable where the system allows opening a folder (not Windows).
fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}
