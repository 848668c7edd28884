//! `weir docs`: writes output/docs/, the project's data docs: `<source>.svg`, an
//! entity-relationship diagram per source (its tables, columns with types, keys, and the parent ->
//! child links its mapper declares), and `index.html`, every table with its columns, the comments
//! of schemas/*.sql, the mapper and raw folder that fill it and the reports that read it. Reads
//! schemas/, mappers/ and queries/ only (no database, no raw data); writes the folder whole into
//! a temporary one and renames it, so output/docs/ is never half old, half new.

use std::path::Path;

use anyhow::Context;

use crate::docs::{self, Link, Source, TableDoc};
use crate::engine;
use crate::error::{Error, Result};
use crate::report;
use crate::schema;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<()> {
    let mut scratch = engine::open(settings.engine, None, false, None)?;
    let schema = schema::read(&settings.root, scratch.as_ref()).map_err(Error::Problems)?;
    schema::ensure(scratch.as_mut(), &schema, false)?;
    let names = crate::mapper::sources(&settings.path("mappers")).map_err(anyhow::Error::from)?;
    let mappers = super::run_etl::read_mappers(settings, &schema, &names, None)?;
    let reports = report::list(&settings.root, settings.engine.name())?;
    let mut queries = Vec::new();
    for r in &reports {
        let sql = std::fs::read_to_string(&r.path)
            .with_context(|| format!("cannot read `{}`", r.relative))?;
        queries.push((r.name.clone(), docs::identifiers(&sql)));
    }

    let mut tables = Vec::new();
    for (table, file) in schema.tables.iter().zip(&schema.file_of) {
        let text = std::fs::read_to_string(settings.root.join(file))
            .with_context(|| format!("cannot read `{file}`"))?;
        let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
        let (mut comment, column_comments) = docs::comments(&text, &table.name, &columns)
            .unwrap_or_else(|| (String::new(), vec![String::new(); columns.len()]));
        // A history table is made from its mapper's `history: true`, not written in schemas/.
        if file.starts_with("mappers/") && comment.is_empty() {
            comment = format!(
                "Every version of each row, from `history: true` in {file}: valid from `valid_from` \
                 until `valid_to` (empty for the current version)."
            );
        }
        let lower = table.name.to_lowercase();
        tables.push(TableDoc {
            table,
            file: file.clone(),
            comment,
            column_comments,
            filled_by: Vec::new(),
            read_by: queries
                .iter()
                .filter(|(_, ids)| ids.contains(&lower))
                .map(|(name, _)| name.clone())
                .collect(),
        });
    }

    let mut sources = Vec::new();
    for m in &mappers {
        let raw = if m.files.is_some() {
            m.raw_path()
        } else {
            format!("{}/", m.raw_path())
        };
        let mut source = Source {
            name: m.source.clone(),
            mapper: m.file.clone(),
            raw: raw.clone(),
            tables: vec![m.spec.table.clone()],
            links: Vec::new(),
        };
        for child in &m.child_specs {
            if !source.tables.contains(&child.spec.table) {
                source.tables.push(child.spec.table.clone());
            }
            source.links.push(Link {
                parent: m.spec.table.clone(),
                child: child.spec.table.clone(),
                columns: child
                    .link
                    .iter()
                    .map(|&(c, p)| (child.spec.columns[c].clone(), m.spec.columns[p].clone()))
                    .collect(),
            });
        }
        if let Some(history) = &m.history {
            source.tables.push(history.clone());
            let key = m.spec.key.iter().map(|&k| m.spec.columns[k].clone());
            source.links.push(Link {
                parent: m.spec.table.clone(),
                child: history.clone(),
                columns: key.map(|k| (k.clone(), k)).collect(),
            });
        }
        for t in &source.tables {
            if let Some(doc) = tables.iter_mut().find(|d| &d.table.name == t) {
                doc.filled_by.push((m.file.clone(), raw.clone()));
            }
        }
        sources.push(source);
    }

    let mut files = vec![("index.html".to_string(), docs::index(&sources, &tables))];
    for s in &sources {
        files.push((format!("{}.svg", s.name), docs::diagram(s, &tables)));
    }
    let output = settings.path("output");
    write_folder(&output, "docs", &files).context("cannot write output/docs/")?;
    settings.say(format!(
        "wrote output/docs/: index.html ({} tables) and {} diagrams",
        tables.len(),
        sources.len()
    ));
    Ok(())
}

/// Writes `files` into `output/<name>/` as a whole: into a hidden folder beside it first, which
/// then takes the old one's place.
fn write_folder(output: &Path, name: &str, files: &[(String, String)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(output)?;
    let pid = std::process::id();
    let temp = output.join(format!(".{name}.{pid}.tmp"));
    let old = output.join(format!(".{name}.{pid}.old"));
    let target = output.join(name);
    let written = (|| {
        std::fs::create_dir_all(&temp)?;
        for (file, text) in files {
            std::fs::write(temp.join(file), text)?;
        }
        if target.exists() {
            std::fs::rename(&target, &old)?;
        }
        std::fs::rename(&temp, &target)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&temp);
        if old.exists() && !target.exists() {
            let _ = std::fs::rename(&old, &target);
        }
        return Err(e.into());
    }
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
