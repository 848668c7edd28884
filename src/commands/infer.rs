//! `weir infer raw_data/<source> [--records PATH] [--key FIELD]… [--force]`: reads the folder's
//! records as run-etl would and writes a proposed `schemas/NN_<source>.sql` and
//! `mappers/<source>.yaml` (`infer` plans them). Reads schemas/ (table names taken, the next
//! number) and never replaces either file unless `--force`; each is written whole, by temporary
//! file and rename.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;

use crate::engine;
use crate::error::{Diagnostic, Error, Location, Result};
use crate::infer::{self, Request};
use crate::schema;
use crate::settings::Settings;

pub struct Args {
    pub folder: PathBuf,
    pub records: Option<String>,
    pub key: Vec<String>,
    pub force: bool,
}

pub fn run(settings: &Settings, args: &Args) -> Result<()> {
    let source = source_of(settings, &args.folder)?;
    let folder = format!("raw_data/{source}");
    let schemas = settings.path("schemas");
    let (schema_file, taken) = schema_plan(settings, &schemas, &source)?;
    let mapper_file = format!("mappers/{source}.yaml");
    for existing in [
        schema_file.clone(),
        mapper_file.clone(),
        format!("mappers/{source}.yml"),
    ] {
        if settings.path(&existing).exists() && !args.force {
            return Err(Error::problem(
                Diagnostic::new("the file is already there")
                    .at(Location::file(&existing))
                    .hint("`weir infer` never replaces a file unless told: pass `--force`, or move the file away"),
            ));
        }
    }
    let records = args
        .records
        .as_ref()
        .map(|r| dotted(r, "--records"))
        .transpose()?;
    let key = args
        .key
        .iter()
        .map(|k| dotted(k, "--key"))
        .collect::<Result<Vec<_>>>()?;
    let proposal = infer::infer(&Request {
        root: &settings.root,
        source: &source,
        folder: &folder,
        records,
        key,
        taken,
    })
    .map_err(Error::Problems)?;
    crate::atomic::write(&settings.path(&schema_file), proposal.sql.as_bytes())
        .with_context(|| format!("cannot write `{schema_file}`"))?;
    let yml = settings.path(&format!("mappers/{source}.yml"));
    if yml.exists() {
        // `--force` replaces the source's mapper, whichever spelling it had: one mapper a source.
        std::fs::remove_file(&yml)
            .with_context(|| format!("cannot replace `{}`", yml.display()))?;
    }
    crate::atomic::write(&settings.path(&mapper_file), proposal.yaml.as_bytes())
        .with_context(|| format!("cannot write `{mapper_file}`"))?;
    let tables: Vec<String> = proposal.tables.iter().map(|t| format!("`{t}`")).collect();
    settings.say(format!(
        "proposed {schema_file} ({} {}) and {mapper_file} from {} records in {} files",
        if tables.len() == 1 { "table" } else { "tables" },
        tables.join(", "),
        proposal.records,
        proposal.files
    ));
    settings.say(format!(
        "records: {}; key: [{}]; version: {}",
        proposal.records_path.as_ref().map_or(
            "each body, or the elements of a list body".to_string(),
            |r| format!("`{r}`")
        ),
        proposal.key.join(", "),
        proposal.version.as_deref().unwrap_or("none")
    ));
    if proposal.pseudonymized && settings.var("WEIR_HASH_SECRET").is_none() {
        settings.say(
            "note: columns that look personal are `privacy: pseudonymize`, which needs \
             WEIR_HASH_SECRET (16 characters or more) in the environment or .env",
        );
    }
    settings.say(format!(
        "next: review both files, then `weir validate` and `weir run-etl {source}`"
    ));
    Ok(())
}

/// The source a folder argument names: it must be a folder directly in raw_data/.
fn source_of(settings: &Settings, folder: &Path) -> Result<String> {
    let shown = folder.display().to_string();
    let relative = if folder.is_absolute() {
        folder
            .strip_prefix(&settings.root)
            .ok()
            .map(Path::to_path_buf)
    } else {
        Some(folder.to_path_buf())
    };
    let parts: Option<Vec<String>> = relative.map(|r| {
        r.components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().to_string())
            .collect()
    });
    let refuse = |why: &str| {
        Error::problem(
            Diagnostic::new(format!("`{shown}` {why}"))
                .field("FOLDER")
                .hint("pass the raw folder of one source, `raw_data/<source>`, from the project folder (`--root`)"),
        )
    };
    let source = match parts.as_deref() {
        Some([raw, name]) if raw == "raw_data" && !name.starts_with('.') && name != ".." => {
            name.clone()
        }
        _ => return Err(refuse("is not a folder directly in raw_data/")),
    };
    if !settings.path(&format!("raw_data/{source}")).is_dir() {
        return Err(refuse("is not there, or not a folder"));
    }
    Ok(source)
}

/// `a.b` -> `[a, b]`; an empty segment is a mistake.
fn dotted(text: &str, flag: &str) -> Result<Vec<String>> {
    let parts: Vec<String> = text.split('.').map(String::from).collect();
    if parts.iter().any(String::is_empty) {
        return Err(Error::problem(
            Diagnostic::new(format!("`{text}` is not a path"))
                .field(flag)
                .hint("write field names joined by `.`, e.g. `incidents` or `data.items`"),
        ));
    }
    Ok(parts)
}

/// The schema file to write (the source's own when it has one, else the next free number) and
/// the tables the other schema files declare.
fn schema_plan(settings: &Settings, dir: &Path, source: &str) -> Result<(String, Vec<String>)> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".sql"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let own = names.iter().find(|n| {
        n.split_once('_').is_some_and(|(num, rest)| {
            num.parse::<u32>().is_ok() && rest == format!("{source}.sql")
        })
    });
    let file = match own {
        Some(n) => format!("schemas/{n}"),
        None => {
            let top = names
                .iter()
                .filter_map(|n| {
                    n.split_once('_')
                        .and_then(|(num, _)| num.parse::<u32>().ok())
                })
                .max();
            let next = top.map_or(10, |t| (t / 10 + 1) * 10);
            format!("schemas/{next:02}_{source}.sql")
        }
    };
    if names.is_empty() {
        return Ok((file, Vec::new()));
    }
    let scratch = engine::open(settings.engine, None, false, None)?;
    let schema = schema::read(&settings.root, scratch.as_ref()).map_err(Error::Problems)?;
    let taken = schema
        .tables
        .iter()
        .zip(&schema.file_of)
        .filter(|(_, f)| **f != file)
        .map(|(t, _)| t.name.clone())
        .collect();
    Ok((file, taken))
}
