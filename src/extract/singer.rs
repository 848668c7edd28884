//! `weir extract singer`: runs a Singer tap (https://hub.meltano.com/singer/spec) and keeps what
//! it prints on stdout in `raw_data/<source>/` as pages of JSONL, each written to a hidden
//! temporary file, synced and moved into place (`pages::place`), so run-etl never reads half a
//! page. Each page after the first starts with the latest SCHEMA of every stream seen so far, so
//! every page names the key properties of the records in it. The tap's stderr is passed on, each
//! line prefixed with the tap's name.
//!
//! The last STATE message's `value` is saved to `raw_data/<source>.state.json`, atomically and
//! only once the tap has exited 0 and every page is on disk; that file is passed to the next run
//! as `--state FILE`. A tap that fails, or prints a line that is no Singer message, advances
//! nothing: the pages already in place stay (raw data is history, and the next run, from the old
//! state, prints those records again, which their keys make harmless), the page being written is
//! removed. Memory follows the longest line, not the run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value as Json;

use super::ExtractError;
use super::pages::place;

/// A page holds at most this many bytes of messages (it may pass it by its last line).
const PAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Lines of the tap's stderr kept for the message when it fails.
const STDERR_KEPT: usize = 8;

/// One run of a tap.
pub struct Tap<'a> {
    pub root: &'a Path,
    pub source: &'a str,
    /// The tap's program (on PATH, or a path) and its arguments.
    pub command: &'a [String],
    /// A page holds at most this many messages.
    pub page_messages: usize,
    /// Do not pass the tap's stderr on (it is still kept for a failure's message).
    pub quiet: bool,
    pub stamp: &'a str,
}

/// What a run wrote.
#[derive(Debug, Default)]
pub struct TapStats {
    pub pages: usize,
    /// RECORD messages, of every stream.
    pub records: usize,
    /// The run was passed the saved state.
    pub resumed: bool,
    /// The run ended with a STATE message, now saved.
    pub state_saved: bool,
}

/// The state file of `source`, relative to the project root.
pub fn state_file(source: &str) -> String {
    format!("raw_data/{source}.state.json")
}

/// Runs the tap and writes its pages, then its state.
pub fn run(tap: &Tap) -> Result<TapStats, ExtractError> {
    let relative = state_file(tap.source);
    let state_path = tap.root.join(&relative);
    let resumed = saved_state(&state_path, &relative)?;
    let (program, args) = tap
        .command
        .split_first()
        .expect("clap requires the tap's command");
    let name = Path::new(program)
        .file_name()
        .map_or_else(|| program.clone(), |n| n.to_string_lossy().into_owned());
    let mut command = Command::new(program);
    command.args(args);
    if resumed {
        command.arg("--state").arg(&state_path);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ExtractError::TapNotStarted {
            program: program.clone(),
            reason: e.to_string(),
            missing: e.kind() == std::io::ErrorKind::NotFound,
        })?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let prefix = name.clone();
    let quiet = tap.quiet;
    let forwarder = std::thread::spawn(move || forward(stderr, &prefix, quiet));
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stats = TapStats {
        resumed,
        ..TapStats::default()
    };
    let read = read_messages(tap, stdout, &mut stats);
    if read.is_err() {
        // We started it: a tap whose output is refused is stopped, not left to block on a pipe.
        let _ = child.kill();
    }
    let status = wait(&mut child, program)?;
    let tail = forwarder.join().unwrap_or_default();
    let (mut pages, state) = read?;
    if !status.success() {
        pages.abandon();
        return Err(ExtractError::TapFailed {
            program: name,
            status: status.code().map_or_else(
                || "was killed by a signal".into(),
                |c| format!("exited {c}"),
            ),
            stderr: tail,
        });
    }
    pages.finish()?;
    stats.pages = pages.written;
    if let Some(state) = state {
        save_state(&state_path, &relative, &state)?;
        stats.state_saved = true;
    }
    Ok(stats)
}

fn wait(child: &mut Child, program: &str) -> Result<std::process::ExitStatus, ExtractError> {
    child.wait().map_err(|e| ExtractError::TapNotStarted {
        program: program.to_string(),
        reason: e.to_string(),
        missing: false,
    })
}

/// Whether a state was saved; a state file that cannot be read, or is not JSON, is an error,
/// never "no state": starting over silently would hide a broken file.
fn saved_state(path: &Path, relative: &str) -> Result<bool, ExtractError> {
    match std::fs::read(path) {
        Ok(bytes) => match serde_json::from_slice::<Json>(&bytes) {
            Ok(_) => Ok(true),
            Err(e) => Err(ExtractError::StateInvalid {
                path: relative.to_string(),
                reason: format!("not JSON ({e})"),
            }),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ExtractError::StateUnreadable {
            path: relative.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Writes the state whole (`atomic::write`), so the tap's next run never reads half of it.
fn save_state(path: &Path, relative: &str, state: &Json) -> Result<(), ExtractError> {
    let mut text = serde_json::to_vec_pretty(state).expect("a JSON value serialises");
    text.push(b'\n');
    crate::atomic::write(path, &text).map_err(|e| ExtractError::Write {
        path: relative.to_string(),
        reason: e.to_string(),
    })
}

/// Passes the tap's stderr on, line by line, and returns its last lines.
fn forward(stderr: impl Read, prefix: &str, quiet: bool) -> Vec<String> {
    let mut tail = std::collections::VecDeque::new();
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if !quiet {
            eprintln!("{prefix}: {line}");
        }
        if tail.len() == STDERR_KEPT {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail.into()
}

/// Reads the tap's stdout into pages; returns them (the last one still open) and the last
/// STATE's `value`.
fn read_messages(
    tap: &Tap,
    stdout: impl Read,
    stats: &mut TapStats,
) -> Result<(Pages, Option<Json>), ExtractError> {
    let mut pages = Pages {
        dir: tap.root.join("raw_data").join(tap.source),
        relative: format!("raw_data/{}", tap.source),
        stamp: tap.stamp.to_string(),
        per_page: tap.page_messages,
        open: None,
        written: 0,
        schemas: BTreeMap::new(),
    };
    let mut state = None;
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    for number in 1.. {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| ExtractError::TapOutput {
                line: number,
                reason: format!("cannot read it: {e}"),
            })?;
        if n == 0 {
            break;
        }
        while line.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |reason: String| ExtractError::TapOutput {
            line: number,
            reason,
        };
        let message: Json = match serde_json::from_slice(&line) {
            Ok(m) => m,
            Err(e) => {
                pages.abandon();
                return Err(bad(format!("not JSON ({e})")));
            }
        };
        let Some(kind) = message.get("type").and_then(Json::as_str) else {
            pages.abandon();
            return Err(bad("not a Singer message: it has no `type`".into()));
        };
        match kind {
            "RECORD" => stats.records += 1,
            "STATE" => match message.get("value") {
                Some(v) => state = Some(v.clone()),
                None => {
                    pages.abandon();
                    return Err(bad("a STATE message has no `value`".into()));
                }
            },
            _ => {}
        }
        if let Err(e) = pages.push(&line) {
            pages.abandon();
            return Err(e);
        }
        if kind == "SCHEMA"
            && let Some(stream) = message.get("stream").and_then(Json::as_str)
        {
            pages.schemas.insert(stream.to_string(), line.clone());
        }
    }
    Ok((pages, state))
}

/// The page being written and the pages written.
struct Pages {
    dir: PathBuf,
    relative: String,
    stamp: String,
    per_page: usize,
    open: Option<Page>,
    written: usize,
    /// The latest SCHEMA line of each stream, to start every later page with.
    schemas: BTreeMap<String, Vec<u8>>,
}

struct Page {
    temp: PathBuf,
    base: String,
    file: std::io::BufWriter<std::fs::File>,
    messages: usize,
    bytes: u64,
}

impl Pages {
    fn fail(&self, path: &Path, e: std::io::Error) -> ExtractError {
        let shown = path
            .file_name()
            .map(|n| format!("{}/{}", self.relative, n.to_string_lossy()))
            .unwrap_or_else(|| self.relative.clone());
        ExtractError::Write {
            path: shown,
            reason: e.to_string(),
        }
    }

    /// Appends one message line, starting a page when none is open and closing it when full.
    fn push(&mut self, line: &[u8]) -> Result<(), ExtractError> {
        if self.open.is_none() {
            self.start()?;
        }
        let page = self.open.as_mut().expect("a page was started");
        let written = page
            .file
            .write_all(line)
            .and_then(|()| page.file.write_all(b"\n"));
        if let Err(e) = written {
            let temp = page.temp.clone();
            return Err(self.fail(&temp, e));
        }
        page.messages += 1;
        page.bytes += line.len() as u64 + 1;
        if page.messages >= self.per_page || page.bytes >= PAGE_BYTES {
            self.finish()?;
        }
        Ok(())
    }

    fn start(&mut self) -> Result<(), ExtractError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| self.fail(&self.dir.clone(), e))?;
        let base = format!("{}-p{:05}", self.stamp, self.written + 1);
        let temp = self.dir.join(format!(".{base}.jsonl.tmp"));
        let file = std::fs::File::create(&temp).map_err(|e| self.fail(&temp, e))?;
        let mut page = Page {
            temp,
            base,
            file: std::io::BufWriter::new(file),
            messages: 0,
            bytes: 0,
        };
        // Every page names the schemas of the streams before it: a loader reads pages alone.
        for schema in self.schemas.values() {
            let written = page
                .file
                .write_all(schema)
                .and_then(|()| page.file.write_all(b"\n"));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&page.temp);
                return Err(self.fail(&page.temp, e));
            }
            page.bytes += schema.len() as u64 + 1;
        }
        self.open = Some(page);
        Ok(())
    }

    /// Syncs the open page and moves it into place.
    fn finish(&mut self) -> Result<(), ExtractError> {
        let Some(page) = self.open.take() else {
            return Ok(());
        };
        let synced = page
            .file
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|f| f.sync_all());
        if let Err(e) = synced {
            let _ = std::fs::remove_file(&page.temp);
            return Err(self.fail(&page.temp, e));
        }
        place(&page.temp, &self.dir, &page.base, "jsonl")?;
        self.written += 1;
        Ok(())
    }

    /// Removes the page being written: a failed run leaves no half page.
    fn abandon(&mut self) {
        if let Some(page) = self.open.take() {
            drop(page.file);
            let _ = std::fs::remove_file(&page.temp);
        }
    }
}
