//! What a command did, for `--json`: the sources it read with their counts, the files it wrote
//! with their rows, and every problem with its place, as one JSON object on stdout. Commands fill
//! a `Summary` as they go; `lib.rs` closes it with the command's outcome and prints it, whether
//! the command succeeded or not, so a script reads the same shape either way. Human messages stay
//! on stderr. Any command can take one: it names itself and pushes what applies.
//! The shape is documented in README.md (`--json`); a key is never dropped, only added.

use std::io::Write;

use serde::Serialize;

use crate::bookkeeping::Tally;
use crate::error::{Diagnostic, Error};

#[derive(Debug, Serialize)]
pub struct Summary {
    /// The verb: `run-etl`, `run-queries`, `run`, `validate`, `check`.
    pub command: &'static str,
    pub version: &'static str,
    pub status: Status,
    /// The process's exit code, the same as without `--json`.
    pub exit_code: i32,
    pub sources: Vec<Source>,
    pub files: Vec<Written>,
    /// What `validate` checked (also when it found problems); `null` for the other commands.
    pub checked: Option<Checked>,
    /// The checks `check` (or `run`, when checks/ exists) ran; `null` when none ran.
    pub checks: Option<Vec<CheckResult>>,
    pub problems: Vec<Problem>,
}

/// One check's result, as a row of output/checks.csv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub check: String,
    pub table: String,
    pub kind: String,
    pub severity: String,
    pub status: String,
    pub failing_rows: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Done, nothing rejected (exit 0).
    Ok,
    /// Done but for records set aside (`--on-error quarantine`, exit 3).
    Partial,
    /// Not done: see `problems` (exit 1 or 2).
    Failed,
    /// Done, and checks of severity `error` failed (exit 4): see `checks`.
    #[serde(rename = "checks_failed")]
    ChecksFailed,
}

/// One source's books, named as in the table `weir_load_sources`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    pub source: String,
    pub files: usize,
    pub files_unchanged: usize,
    pub records_read: usize,
    pub loaded: usize,
    pub rejected: usize,
    pub superseded: usize,
    pub removed: usize,
}

impl Source {
    pub fn new(source: &str, t: &Tally) -> Source {
        Source {
            source: source.to_string(),
            files: t.files,
            files_unchanged: t.files_unchanged,
            records_read: t.records_read,
            loaded: t.loaded,
            rejected: t.rejected,
            superseded: t.superseded,
            removed: t.removed,
        }
    }
}

/// A file the command wrote, relative to the project folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    pub path: String,
    /// `null` when the format does not say (Parquet written by the engine).
    pub rows: Option<usize>,
}

/// What `validate` found to check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checked {
    pub tables: usize,
    pub mappers: usize,
    pub records: usize,
    pub queries: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// What stopped the command, or a finding of `validate`.
    Error,
    /// Done anyway: a skipped file, a value no reference list knows.
    Warning,
    /// What followed from the errors (`nothing was loaded`).
    Note,
    /// A record set aside by `--on-error quarantine`.
    Rejected,
}

/// One problem: a `Diagnostic` with every place field named, `null` when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Which record, when there is no line: `record 3`.
    pub record: Option<String>,
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(severity: Severity, d: &Diagnostic) -> Problem {
        let severity = if d.note { Severity::Note } else { severity };
        let at = d.location.as_ref();
        Problem {
            severity,
            file: at.map(|l| l.file.clone()),
            line: at.and_then(|l| l.line),
            column: at.and_then(|l| l.column),
            record: at.and_then(|l| l.record.clone()),
            field: d.field.clone(),
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }

    /// A problem known only by its text (a warning the command phrased itself).
    pub fn text(severity: Severity, message: impl Into<String>) -> Problem {
        Problem::new(severity, &Diagnostic::new(message))
    }
}

impl Summary {
    pub fn new(command: &'static str) -> Summary {
        Summary {
            command,
            version: env!("CARGO_PKG_VERSION"),
            status: Status::Ok,
            exit_code: 0,
            sources: Vec::new(),
            files: Vec::new(),
            checked: None,
            checks: None,
            problems: Vec::new(),
        }
    }

    pub fn problem(&mut self, severity: Severity, d: &Diagnostic) {
        self.problems.push(Problem::new(severity, d));
    }

    /// Takes the command's outcome: its status, exit code and the problems its error lists.
    pub fn close(&mut self, outcome: &Result<(), Error>) {
        let Err(e) = outcome else {
            return;
        };
        self.exit_code = e.exit_code();
        match e {
            Error::Partial(_) => self.status = Status::Partial,
            Error::ChecksFailed(_) => self.status = Status::ChecksFailed,
            Error::Problems(list) => {
                self.status = Status::Failed;
                for d in list {
                    self.problem(Severity::Error, d);
                }
            }
            Error::Internal(e) => {
                self.status = Status::Failed;
                self.problems
                    .push(Problem::text(Severity::Error, format!("{e:#}")));
            }
        }
    }

    /// Prints the summary on stdout as one line of JSON. A closed pipe is no failure (STYLE.md).
    pub fn print(&self) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        let written = serde_json::to_writer(&mut out, self)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}
