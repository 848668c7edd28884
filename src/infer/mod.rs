//! `weir infer`: proposes a schema and a mapper for a raw folder from the records in it. Reads the
//! folder through the loader (`load::read_records`), so it sees exactly the records run-etl maps;
//! profiles them (profile.rs), plans tables and columns (plan.rs) and writes the text
//! (render.rs). Owns the guesses of the records path, the key and the version; writes no file.

mod names;
mod plan;
mod profile;
mod render;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value as Json;

use crate::error::{Diagnostic, Location, did_you_mean};
use crate::load;
use crate::mapper::Mapper;
use plan::{Input, Version};
use profile::Shape;

/// What to infer from.
pub struct Request<'a> {
    pub root: &'a Path,
    pub source: &'a str,
    /// The folder, relative to the project root (`raw_data/<source>`).
    pub folder: &'a str,
    /// `--records`: dotted keys to the record list in each body.
    pub records: Option<Vec<String>>,
    /// `--key`: dotted paths of the key fields.
    pub key: Vec<Vec<String>>,
    /// Tables other schema files declare.
    pub taken: Vec<String>,
}

/// The proposal, as text, and what it was made from.
pub struct Proposal {
    pub sql: String,
    pub yaml: String,
    pub records: usize,
    pub files: usize,
    pub tables: Vec<String>,
    pub key: Vec<String>,
    pub version: Option<String>,
    pub records_path: Option<String>,
    /// Columns that pseudonymise (and so need `WEIR_HASH_SECRET`).
    pub pseudonymized: bool,
}

/// What one record gave for the fields a key or version may be made of.
struct Seen {
    hash: u128,
    /// By watched path (segments joined by `\u{1f}`): the value as text, `None` when missing,
    /// null or not a scalar.
    fields: HashMap<String, Option<String>>,
    context: HashMap<String, String>,
    fetched_at: Option<String>,
}

/// What a read of the folder gave.
struct Read {
    files: usize,
    shape: Shape,
    seen: Vec<Seen>,
    /// Where the first record that is not an object is, and how many there are.
    not_objects: Option<(String, usize)>,
}

pub fn infer(req: &Request) -> Result<Proposal, Vec<Diagnostic>> {
    let dir = req.root.join(req.folder);
    let mapper_file = format!("mappers/{}.yaml", req.source);
    let (records, guessed) = match &req.records {
        Some(r) => (Some(r.clone()), false),
        None => {
            let probe = Mapper::reader(req.source, &mapper_file, None);
            let guess = guess_records(&probe, req.root, &dir)?;
            let found = guess.is_some();
            (guess, found)
        }
    };
    let mapper = Mapper::reader(req.source, &mapper_file, records.clone());
    let read = read(&mapper, req, &dir)?;
    let n = read.seen.len();
    if n == 0 {
        return Err(vec![
            Diagnostic::new(format!("no records in `{}`", req.folder))
                .at(Location::file(req.folder))
                .hint("add raw files (.json, .jsonl, .yaml, .csv, .xlsx) with records to the folder, or check `--records`"),
        ]);
    }
    if let Some((at, count)) = read.not_objects {
        let mut d = Diagnostic::new(format!(
            "{count} of the {n} records are not objects, so they cannot be rows"
        ))
        .at(Location::file(at));
        d.hint = Some(match &records {
            Some(r) => format!("`--records {}` must lead to a list of objects", r.join(".")),
            None => "name the list of records in each body with `--records PATH`".into(),
        });
        return Err(vec![d]);
    }
    let version = guess_version(&read);
    let (key, context_key) = if req.key.is_empty() {
        guess_key(&read, version.as_ref(), req.folder)?
    } else {
        (given_key(&read, &req.key, req.folder)?, Vec::new())
    };
    let mut taken = req.taken.clone();
    taken.sort();
    let plan = plan::plan(&Input {
        table: req.source.to_string(),
        root: &read.shape,
        key: &key,
        context_key: &context_key,
        version: version.as_ref(),
        taken,
    });
    let records_text = records.as_ref().map(|r| r.join("."));
    let mut header = vec![
        format!(
            "Proposed by `weir infer {}` from {n} records in {} files: review it, then `weir run-etl {}`.",
            req.folder, read.files, req.source
        ),
        "Comments say how many records had each field (N of M) and up to 3 samples, masked".into(),
        "where they look like an email, phone number, IP address or token.".into(),
    ];
    let sql_header = header.clone();
    if guessed && let Some(r) = &records_text {
        header.push(format!(
            "records: `{r}`, guessed: the one list of objects in every body (`--records` picks another)."
        ));
    }
    header.push(match (req.key.is_empty(), &context_key.is_empty()) {
        (false, _) => "key: as `--key` named it.".into(),
        (true, true) => {
            "key: guessed, an id-like field present and unique in every record (`--key` picks another).".into()
        }
        (true, false) => "key: guessed, an id-like field with the page's context, which tells records with one id apart.".into(),
    });
    if let Some(v) = &version {
        header.push(match v {
            Version::FetchedAt => {
                "version: the page envelope's fetch time, so the newest fetch of a record wins."
                    .into()
            }
            Version::Field(p) => format!(
                "version: `{}`, the record's own change time, so its newest copy wins.",
                p.join(".")
            ),
        });
    }
    let sql = render::sql(&plan, &sql_header);
    let yaml = render::yaml(&plan, &header, records.as_deref());
    let pseudonymized = plan
        .tables
        .iter()
        .flat_map(|t| &t.columns)
        .any(|c| c.privacy == Some("pseudonymize"));
    Ok(Proposal {
        sql,
        yaml,
        records: n,
        files: read.files,
        tables: plan.tables.iter().map(|t| t.name.clone()).collect(),
        key: plan.tables[0].key.clone(),
        version: plan.version.clone(),
        records_path: records_text,
        pseudonymized,
    })
}

fn problems(p: load::Problems) -> Result<(), Vec<Diagnostic>> {
    let list = p.into_diagnostics();
    if list.is_empty() { Ok(()) } else { Err(list) }
}

/// Without `--records`: when every file's body is one object holding one list of objects (as
/// PagerDuty's `{"incidents": [...], "limit": 25}`), that list's key.
fn guess_records(
    probe: &Mapper,
    root: &Path,
    dir: &Path,
) -> Result<Option<Vec<String>>, Vec<Diagnostic>> {
    let mut bodies = 0;
    let mut common: Option<HashSet<String>> = None;
    let mut filled: HashSet<String> = HashSet::new();
    let (_, p) = load::read_records(probe, root, dir, &mut |_, r| {
        if !r.whole_body {
            return;
        }
        bodies += 1;
        let lists: HashSet<String> = match r.record {
            Json::Object(map) => map
                .iter()
                .filter(|(_, v)| {
                    v.as_array()
                        .is_some_and(|items| items.iter().all(Json::is_object))
                })
                .map(|(k, v)| {
                    if v.as_array().is_some_and(|a| !a.is_empty()) {
                        filled.insert(k.clone());
                    }
                    k.clone()
                })
                .collect(),
            _ => HashSet::new(),
        };
        common = Some(match common.take() {
            None => lists,
            Some(c) => c.intersection(&lists).cloned().collect(),
        });
    });
    problems(p)?;
    let common: Vec<String> = common
        .unwrap_or_default()
        .into_iter()
        .filter(|k| filled.contains(k))
        .collect();
    Ok(match common.as_slice() {
        [one] if bodies > 0 => Some(vec![one.clone()]),
        _ => None,
    })
}

/// Whether a field name reads as an identifier, and how strongly (lower is stronger).
fn id_rank(name: &str) -> Option<usize> {
    let n = name.to_ascii_lowercase();
    if n == "id" {
        Some(0)
    } else if n.ends_with("_id")
        || n.ends_with("-id")
        || name.ends_with("Id")
        || name.ends_with("ID")
    {
        Some(1)
    } else if matches!(n.as_str(), "uuid" | "guid" | "key" | "public_id")
        || n.ends_with("_uuid")
        || n.ends_with("_key")
    {
        Some(2)
    } else if n == "slug" {
        Some(3)
    } else {
        None
    }
}

/// Field names that say when the record last changed, strongest first.
const VERSION_NAMES: &[&str] = &[
    "updatedat",
    "modifiedat",
    "lastmodified",
    "lastmodifiedat",
    "lastupdated",
    "lastupdatedat",
    "dateupdated",
    "datemodified",
    "updated",
    "modified",
    "fetchedat",
];

fn version_rank(name: &str) -> Option<usize> {
    let n: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    VERSION_NAMES.iter().position(|v| *v == n)
}

fn watch_key(path: &[String]) -> String {
    path.join("\u{1f}")
}

/// Reads the records, profiling them and keeping what key and version guesses need.
fn read(mapper: &Mapper, req: &Request, dir: &Path) -> Result<Read, Vec<Diagnostic>> {
    let mut shape = Shape::default();
    let mut seen = Vec::new();
    let mut not_objects: Option<(String, usize)> = None;
    let (files, p) = load::read_records(mapper, req.root, dir, &mut |file, r| {
        let Json::Object(map) = r.record else {
            let entry = not_objects.get_or_insert_with(|| (file.relative.clone(), 0));
            entry.1 += 1;
            return;
        };
        shape.observe(map, r.page.text_cells);
        let mut fields = HashMap::new();
        for (k, v) in map {
            if id_rank(k).is_some() || version_rank(k).is_some() {
                fields.insert(k.clone(), scalar_text(Some(v)));
            }
        }
        for path in &req.key {
            let mut v = Some(r.record);
            for seg in path {
                v = v.and_then(|v| v.get(seg));
            }
            fields.insert(watch_key(path), scalar_text(v));
        }
        let context = r
            .page
            .context
            .and_then(Json::as_object)
            .map(|m| {
                m.iter()
                    // A pagination header tells pages apart, not records.
                    .filter(|(k, _)| k.as_str() != "link")
                    .filter_map(|(k, v)| scalar_text(Some(v)).map(|s| (k.clone(), s)))
                    .collect()
            })
            .unwrap_or_default();
        let text = serde_json::to_string(r.record).unwrap_or_default();
        seen.push(Seen {
            hash: xxhash_rust::xxh3::xxh3_128(text.as_bytes()),
            fields,
            context,
            fetched_at: r.page.fetched_at.and_then(|v| scalar_text(Some(v))),
        });
    });
    problems(p)?;
    Ok(Read {
        files,
        shape,
        seen,
        not_objects,
    })
}

fn scalar_text(v: Option<&Json>) -> Option<String> {
    match v? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The page's fetch time when any record has one, else a change-time field of the records.
fn guess_version(read: &Read) -> Option<Version> {
    if read.seen.iter().any(|s| s.fetched_at.is_some()) {
        return Some(Version::FetchedAt);
    }
    read.shape
        .fields
        .iter()
        .filter(|(_, f)| f.values() > 0 && f.timestamps == f.values())
        .filter_map(|(name, _)| version_rank(name).map(|r| (r, name)))
        .min()
        .map(|(_, name)| Version::Field(vec![name.clone()]))
}

fn version_of(s: &Seen, version: Option<&Version>) -> Option<String> {
    match version? {
        Version::FetchedAt => s.fetched_at.clone(),
        Version::Field(p) => s.fields.get(&watch_key(p)).cloned().flatten(),
    }
}

/// Records with one key (and context and version) but different content: the later would
/// silently replace the earlier.
fn clashes(read: &Read, key: &[String], context: &[String], version: Option<&Version>) -> usize {
    let mut by_key: HashMap<Vec<Option<String>>, u128> = HashMap::new();
    let mut clashes = 0;
    for s in &read.seen {
        let mut id: Vec<Option<String>> =
            context.iter().map(|c| s.context.get(c).cloned()).collect();
        id.extend(key.iter().map(|k| s.fields.get(k).cloned().flatten()));
        id.push(version_of(s, version));
        match by_key.get(&id) {
            Some(h) if *h != s.hash => clashes += 1,
            Some(_) => {}
            None => {
                by_key.insert(id, s.hash);
            }
        }
    }
    clashes
}

type Key = (Vec<Vec<String>>, Vec<String>);

/// An id-like top-level field that every record has and no two different records share (with
/// the page's context when one id appears in the pages of several, such as a team in the pages
/// of several repositories).
fn guess_key(read: &Read, version: Option<&Version>, folder: &str) -> Result<Key, Vec<Diagnostic>> {
    let mut candidates: Vec<(usize, usize, &String)> = read
        .shape
        .fields
        .iter()
        .enumerate()
        .filter_map(|(i, (name, _))| id_rank(name).map(|r| (r, i, name)))
        .collect();
    candidates.sort();
    let n = read.seen.len();
    let mut why = Vec::new();
    for (_, _, name) in candidates {
        let field = read.shape.field(name).expect("candidates are fields");
        let missing = read
            .seen
            .iter()
            .filter(|s| s.fields.get(name.as_str()).is_none_or(Option::is_none))
            .count();
        if missing > 0 || field.bools > 0 {
            why.push(format!(
                "`{name}` has no single value in {missing} of {n} records"
            ));
            continue;
        }
        // Context keys under which one id appears with two values belong to the key.
        let mut values: HashMap<&str, HashMap<&str, HashSet<&str>>> = HashMap::new();
        for s in &read.seen {
            let id = s.fields[name.as_str()].as_deref().unwrap_or("");
            for (c, v) in &s.context {
                values
                    .entry(c)
                    .or_default()
                    .entry(id)
                    .or_default()
                    .insert(v);
            }
        }
        let mut context: Vec<String> = values
            .iter()
            .filter(|(c, ids)| {
                ids.values().any(|vs| vs.len() > 1)
                    && read.seen.iter().all(|s| s.context.contains_key(**c))
            })
            .map(|(c, _)| c.to_string())
            .collect();
        context.sort();
        let key = vec![name.clone()];
        let clashing = clashes(read, &key, &context, version);
        if clashing > 0 {
            why.push(format!(
                "`{name}` is the same in {clashing} records that differ{}",
                if version.is_some() {
                    " (with the same version)"
                } else {
                    ""
                }
            ));
            continue;
        }
        return Ok((vec![vec![name.clone()]], context));
    }
    let fields: Vec<&str> = read
        .shape
        .fields
        .iter()
        .map(|(k, _)| k.as_str())
        .take(8)
        .collect();
    let mut d = Diagnostic::new(if why.is_empty() {
        format!("no field of the {n} records looks like an id, so weir cannot guess the key")
    } else {
        format!(
            "no id-like field is present and unique in every record: {}",
            why.join("; ")
        )
    })
    .at(Location::file(folder));
    d.hint = Some(format!(
        "name the field (or fields) that tell records apart with `--key`, e.g. `--key {}`; the fields are {}",
        fields.first().copied().unwrap_or("id"),
        fields
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Err(vec![d])
}

/// `--key` as typed: each path must hold a single value in every record.
fn given_key(
    read: &Read,
    key: &[Vec<String>],
    folder: &str,
) -> Result<Vec<Vec<String>>, Vec<Diagnostic>> {
    let n = read.seen.len();
    let mut problems = Vec::new();
    for path in key {
        let text = path.join(".");
        let missing = read
            .seen
            .iter()
            .filter(|s| s.fields.get(&watch_key(path)).is_none_or(Option::is_none))
            .count();
        if missing == n && read.shape.field(&path[0]).is_none() {
            let mut d = Diagnostic::new(format!("no record has a field `{text}`"))
                .at(Location::file(folder))
                .field("--key");
            d.hint = did_you_mean(&path[0], read.shape.fields.iter().map(|(k, _)| k.as_str()))
                .or_else(|| Some("name a field of the records; nested ones as `a.b`".into()));
            problems.push(d);
        } else if missing > 0 {
            problems.push(
                Diagnostic::new(format!(
                    "`{text}` has no single value (it is missing, null, a list or an object) in {missing} of {n} records, and every row needs its key"
                ))
                .at(Location::file(folder))
                .field("--key")
                .hint("pick fields every record has, or add more `--key` fields"),
            );
        }
    }
    if problems.is_empty() {
        Ok(key.to_vec())
    } else {
        Err(problems)
    }
}
