//! Errors: a `Diagnostic` says what is wrong, where, and how to fix it; `Error` sorts failures into
//! the user's to fix (exit 1) and weir's (exit 2), loads that set records aside (exit 3) and
//! data that fails its checks (exit 4). Printed once, by `main`.

use std::fmt;

/// Where in a file a problem is. Paths are relative to the project root when they are inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What inside the file, when there is no line: `record 3`.
    pub record: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Location {
            file: file.into(),
            line: None,
            column: None,
            record: None,
        }
    }

    pub fn at(file: impl Into<String>, line: usize, column: usize) -> Self {
        Location {
            file: file.into(),
            line: Some(line),
            column: Some(column),
            record: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(record) = &self.record {
            write!(f, " ({record})")?;
        }
        Ok(())
    }
}

/// One problem the user can fix: `file:line:column: field: message` and a hint.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// A note says what followed from the problems (`nothing was loaded`); it is not one itself.
    pub note: bool,
    pub location: Option<Location>,
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic {
            note: false,
            location: None,
            field: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn note(message: impl Into<String>) -> Self {
        Diagnostic {
            note: true,
            ..Diagnostic::new(message)
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", if self.note { "note" } else { "error" })?;
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Problems in the user's files or command line; each says how to fix it.
    #[error("{}", render(.0))]
    Problems(Vec<Diagnostic>),
    /// weir could not do the job: I/O, the database, a bug.
    #[error("error: {0:#}")]
    Internal(#[from] anyhow::Error),
    /// The job is done but for what was set aside (`--on-error quarantine`).
    #[error("warning: {0}")]
    Partial(String),
    /// The job is done, and checks of severity `error` found the data wanting (`weir check`).
    #[error("error: {0}")]
    ChecksFailed(String),
}

impl Error {
    pub fn problem(diagnostic: Diagnostic) -> Self {
        Error::Problems(vec![diagnostic])
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Problems(_) => 1,
            // The machine refusing (a full disk, a read-only folder, a locked or damaged
            // database) is for the user to fix, like a bad file.
            Error::Internal(e) if crate::engine::is_resource_fault(e) => 1,
            Error::Internal(_) => 2,
            Error::Partial(_) => 3,
            Error::ChecksFailed(_) => 4,
        }
    }
}

fn render(problems: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&problem.to_string());
    }
    let count = problems.iter().filter(|p| !p.note).count();
    if count > 1 {
        out.push_str(&format!("\n{count} problems"));
    }
    out
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The nearest of `candidates` to `name`, for a "did you mean".
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, c)| *d > 0 && *d <= (c.chars().count().max(name.chars().count()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// `hint: did you mean `x`?` when there is a near name.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest(name, candidates).map(|s| format!("did you mean `{s}`?"))
}
