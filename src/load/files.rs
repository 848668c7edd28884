//! The raw files of a source folder, and which of them the ledger says to read again.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use walkdir::WalkDir;

use super::pipeline::Job;
use super::{Options, Problems};
use crate::bookkeeping::{self, FileEntry, Tally};
use crate::engine::Load;
use crate::error::{Diagnostic, Location};
use crate::mapper::Mapper;

/// A file whose modification time is this close to when the ledger recorded it may have changed
/// again within the clock's resolution: its content hash decides (git's "racy" rule).
const RACY_NS: i64 = 2_000_000_000;
const KINDS: [&str; 8] = [
    "json", "jsonl", "ndjson", "yaml", "yml", "csv", "tsv", "xlsx",
];

/// A raw file and what the file system says of it.
#[derive(Debug, Clone)]
pub struct RawFile {
    pub path: PathBuf,
    /// Relative to the project root, with `/` separators.
    pub relative: String,
    /// Relative to its source folder, with `/` separators (what `context_from_path` matches).
    pub within: String,
    pub size: i64,
    pub modified_ns: i64,
}

/// The raw files of one source folder, in path order. Symbolic links are followed (a loop is an
/// error naming it); hidden files and folders are left out.
pub fn raw_files(
    dir: &Path,
    root: &Path,
    problems: &mut Problems,
    skipped: &mut Vec<String>,
) -> Vec<RawFile> {
    let mut files = Vec::new();
    let walk = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let what = if e.loop_ancestor().is_some() {
                    "a symbolic link loops back to a folder above it".to_string()
                } else {
                    format!("cannot read it: {e}")
                };
                problems.push(
                    Diagnostic::new(what)
                        .at(Location::file(relative_path(e.path().unwrap_or(dir), root)))
                        .hint("remove or fix the link, or the permissions"),
                );
                continue;
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if !KINDS.contains(&ext) {
            skipped.push(relative_path(entry.path(), root));
            continue;
        }
        let stat = entry
            .metadata()
            .map_err(std::io::Error::from)
            .and_then(|m| {
                Ok((
                    i64::try_from(m.len()).unwrap_or(i64::MAX),
                    nanos(m.modified()?),
                ))
            });
        let (size, modified_ns) = match stat {
            Ok(stat) => stat,
            Err(e) => {
                // Without its size and time the ledger cannot tell whether the file changed.
                problems.push(
                    Diagnostic::new(format!("cannot read the file's size and time: {e}"))
                        .at(Location::file(relative_path(entry.path(), root)))
                        .hint("check the file and its folder's permissions"),
                );
                continue;
            }
        };
        files.push(RawFile {
            path: entry.path().to_path_buf(),
            relative: relative_path(entry.path(), root),
            within: relative_path(entry.path(), dir),
            size,
            modified_ns,
        });
    }
    files
}

pub(super) fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A path relative to the project root, with `/` separators.
pub fn relative_path(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// Which files to read: those the ledger does not know as loaded, by this mapper, unchanged.
/// Also returns the ledger's files that are gone from the folder.
pub(super) fn plan(
    mapper: &Mapper,
    files: Vec<RawFile>,
    load: &mut dyn Load,
    opts: &Options,
    tally: &mut Tally,
    problems: &mut Problems,
) -> anyhow::Result<(Vec<Job>, Vec<String>)> {
    let (ledger, others) = bookkeeping::files(load, &mapper.source, &opts.folder)?;
    // A complete source's files hold every record of it: two folders cannot both hold them all.
    if mapper.complete
        && let Some(other) = others.first()
    {
        problems.push(
            Diagnostic::new(format!(
                "`{}` is a complete source (`complete: true`), and the folder `{other}` loads it \
                 into this warehouse too: a complete source's files must all be in one folder",
                mapper.source
            ))
            .at(Location::file(&mapper.file))
            .field("complete")
            .hint(
                "load this source from one folder (set WEIR_PROJECT to the same name in folders \
                 that are copies of one project), or remove `complete: true`",
            ),
        );
        return Ok((Vec::new(), Vec::new()));
    }
    let gone: Vec<String> = ledger
        .keys()
        .filter(|k| !files.iter().any(|f| &f.relative == *k))
        .cloned()
        .collect();
    let usable = |f: &RawFile| -> Option<&FileEntry> {
        ledger
            .get(&f.relative)
            .filter(|e| !opts.full && e.mapper == mapper.fingerprint)
    };
    let same = |f: &RawFile| {
        usable(f).is_some_and(|e| {
            e.size == f.size
                && e.modified_ns == f.modified_ns
                && e.recorded_ns - f.modified_ns > RACY_NS
        })
    };
    // A complete source is all or nothing: its rows are the ones its files hold now.
    if mapper.complete {
        // Hand-written files are small: hash the ones whose size or time moved.
        let hashed = |f: &RawFile| {
            usable(f).is_some_and(|e| {
                e.size == f.size && std::fs::read(&f.path).is_ok_and(|b| hash(&b) == e.hash)
            })
        };
        if gone.is_empty() && !opts.full && files.iter().all(|f| same(f) || hashed(f)) {
            tally.files_unchanged = files.len();
            for f in files.iter().filter(|f| !same(f)) {
                let entry = FileEntry {
                    size: f.size,
                    modified_ns: f.modified_ns,
                    recorded_ns: nanos(SystemTime::now()),
                    ..ledger[&f.relative].clone()
                };
                bookkeeping::file_loaded(
                    load,
                    &mapper.source,
                    &opts.folder,
                    &f.relative,
                    &entry,
                    opts.load_id,
                    false,
                )?;
            }
            return Ok((Vec::new(), gone));
        }
        let jobs = files
            .into_iter()
            .map(|file| Job {
                file,
                known_hash: None,
            })
            .collect();
        return Ok((jobs, gone));
    }
    let mut jobs = Vec::new();
    for file in files {
        if same(&file) {
            tally.files_unchanged += 1;
            continue;
        }
        let known_hash = usable(&file).map(|e| e.hash.clone());
        jobs.push(Job { file, known_hash });
    }
    Ok((jobs, gone))
}

/// The content hash the ledger keeps.
pub(super) fn hash(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}
