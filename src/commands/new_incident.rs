//! `weir new-incident NAME [--date DATE] [--file FILE]`: appends a postmortem entry with every
//! field, the unknown ones as `# to fill` placeholders, to an incidents YAML file (made when
//! missing). Reads mappers/incidents.yaml (the root causes and severities it allows) and every
//! raw file of the source (an incident is there at most once); writes only the one file, by
//! temporary file and rename, its existing bytes untouched before the new entry.

use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use jiff::civil::Date;
use serde_json::Value as Json;

use crate::engine;
use crate::error::{Diagnostic, Error, Location, Result};
use crate::load::{self, Problems};
use crate::lock::{self, Mode};
use crate::postmortem::{self, Choices, MARKER};
use crate::schema;
use crate::settings::Settings;

/// The source whose files hold the postmortems.
pub const SOURCE: &str = "incidents";

pub struct Args {
    pub name: String,
    /// `--date`, as typed.
    pub date: Option<String>,
    /// `--file`, relative to the project folder.
    pub file: Option<PathBuf>,
}

pub fn run(settings: &Settings, args: &Args) -> Result<()> {
    let name = incident_name(&args.name)?;
    let date = match &args.date {
        Some(text) => parse_date(text)?,
        None => jiff::tz::TimeZone::system()
            .to_datetime(settings.now()?)
            .date(),
    };
    let mut scratch = engine::open(settings.engine, None, false, None)?;
    let schema = schema::read(&settings.root, scratch.as_ref()).map_err(Error::Problems)?;
    schema::ensure(scratch.as_mut(), &schema, false)?;
    let mapper = super::run_etl::read_mappers(settings, &schema, &[SOURCE.to_string()], None)?
        .pop()
        .expect("one mapper per source asked for");
    let choices = Choices::of(&mapper);
    let folder = settings.path(&mapper.raw_path());

    let _raw = lock::raw_data(settings, Mode::Exclusive, "new-incident")?;
    let existing = existing_files(settings, &folder)?;
    for (relative, text) in &existing {
        if let Some((line, column)) = postmortem::find(text, &name, date) {
            return Err(Error::problem(
                Diagnostic::new(format!("an incident `{name}` on {date} is already here"))
                    .at(Location::at(relative, line, column))
                    .hint("an incident is known by its name and date: edit that entry, or give this one another name or `--date`"),
            ));
        }
    }
    let target = match &args.file {
        Some(file) => chosen_file(settings, &folder, file)?,
        None => default_file(&folder, &existing, date, settings),
    };
    let relative = load::relative_path(&target, &settings.root);
    let old = match std::fs::read(&target) {
        Ok(bytes) => String::from_utf8(bytes).map_err(|_| {
            Error::problem(
                Diagnostic::new("the file is not UTF-8 text")
                    .at(Location::file(&relative))
                    .hint("save it as UTF-8, or pass another `--file`"),
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(anyhow::Error::from(e)
                .context(format!("cannot read `{relative}`"))
                .into());
        }
    };
    let text = appended(&old, &postmortem::entry(&name, date, &choices));
    let Some((line, _)) = postmortem::find(&text, &name, date).filter(|_| is_list(&text, &old))
    else {
        return Err(Error::problem(
            Diagnostic::new("cannot append an entry: the file is not a YAML list of incidents")
                .at(Location::file(&relative))
                .hint("fix the file (`weir validate` says where), or pass another `--file`"),
        ));
    };
    crate::atomic::write(&target, text.as_bytes())
        .with_context(|| format!("cannot write `{relative}`"))?;
    let count = postmortem::placeholders(&relative, &text[old.len()..]).len();
    settings.say(format!(
        "added `{name}` on {date} to {relative}:{line}: fill the {count} values marked `{MARKER}` \
         (`weir validate` lists those left)"
    ));
    Ok(())
}

/// The name, trimmed; one line of text.
fn incident_name(text: &str) -> Result<String> {
    let name = text.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(Error::problem(
            Diagnostic::new("the incident's name must be one line of text")
                .field("NAME")
                .hint("name it as the postmortem does, e.g. `weir new-incident \"Payments API 502s\"`"),
        ));
    }
    Ok(name.to_string())
}

fn parse_date(text: &str) -> Result<Date> {
    text.trim().parse::<Date>().map_err(|_| {
        Error::problem(
            Diagnostic::new(format!("`{text}` is not a date"))
                .field("--date")
                .hint("write it as YYYY-MM-DD, e.g. `--date 2026-11-30`"),
        )
    })
}

/// The YAML files of the source now, relative path and text, in path order.
fn existing_files(settings: &Settings, folder: &Path) -> Result<Vec<(String, String)>> {
    if !folder.exists() {
        return Ok(Vec::new());
    }
    let mut problems = Problems::default();
    let files = load::raw_files(folder, &settings.root, &mut problems, &mut Vec::new());
    if !problems.list.is_empty() {
        return Err(Error::Problems(problems.into_diagnostics()));
    }
    let mut out = Vec::new();
    for f in files {
        if f.path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml")
        {
            let text = std::fs::read_to_string(&f.path)
                .with_context(|| format!("cannot read `{}`", f.relative))?;
            out.push((f.relative, text));
        }
    }
    Ok(out)
}

/// `--file`: a YAML file of the source (a file elsewhere would never load).
fn chosen_file(settings: &Settings, folder: &Path, file: &Path) -> Result<PathBuf> {
    let path = lexical(&settings.root.join(file));
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    let inside = path.starts_with(lexical(folder)) && path != lexical(folder);
    if !yaml || !inside {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "`{}` is not a YAML file of the {SOURCE} source",
                file.display()
            ))
            .field("--file")
            .hint(format!(
                "name a `.yaml` file in {}/, e.g. `--file {}/2026.yaml`",
                load::relative_path(folder, &settings.root),
                load::relative_path(folder, &settings.root)
            )),
        ));
    }
    Ok(path)
}

/// `a/./b/../c` as `a/c`, without touching the disk (the file may not exist yet).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Without `--file`: the file holding the newest incident of the same year (where this year's
/// incidents are being written, whatever its files are called), else `<year>.yaml`.
fn default_file(
    folder: &Path,
    existing: &[(String, String)],
    date: Date,
    settings: &Settings,
) -> PathBuf {
    let mut newest: Option<(Date, &str)> = None;
    for (relative, text) in existing {
        let Ok((Json::Array(items), _)) = crate::yaml::parse(text) else {
            continue;
        };
        for item in &items {
            let Some(d) = item
                .get("incident_date")
                .and_then(Json::as_str)
                .and_then(|d| d.trim().parse::<Date>().ok())
            else {
                continue;
            };
            if d.year() == date.year() && newest.is_none_or(|(n, _)| d >= n) {
                newest = Some((d, relative));
            }
        }
    }
    match newest {
        Some((_, relative)) => settings.root.join(relative),
        None => folder.join(format!("{}.yaml", date.year())),
    }
}

/// `old` with `entry` after it, a blank line between; `old` is kept byte for byte (a last line
/// without its newline gets one).
fn appended(old: &str, entry: &str) -> String {
    let mut text = old.to_string();
    if !text.is_empty() {
        if !text.ends_with('\n') {
            // A file saved with CRLF line ends keeps them: the entry's lines are LF, which YAML
            // reads the same.
            text.push_str(if text.contains("\r\n") { "\r\n" } else { "\n" });
        }
        text.push('\n');
    }
    text.push_str(entry);
    text
}

/// The whole text is a list with one entry more than `old` had (appending to a file that is
/// not a list, or whose list is indented, would change what it means).
fn is_list(text: &str, old: &str) -> bool {
    let before = match crate::yaml::parse(old) {
        Ok((Json::Array(items), _)) => items.len(),
        Ok((Json::Null, _)) => 0,
        _ => return false,
    };
    matches!(crate::yaml::parse(text), Ok((Json::Array(items), _)) if items.len() == before + 1)
}
