//! `weir extract`: the vendors' list endpoints, page by page, into `raw_data/<vendor>_<entity>/`
//! as weir page envelopes. Only this folder names reqwest, tokio or a vendor.
//!
//! Each page is written to a hidden temporary file and renamed, so run-etl never reads half a
//! page (`pages.rs`); the state file (`raw_data/<vendor>.state.json`, `state.rs`) records each
//! entity's high-water mark and is saved only after the pages it covers are on disk. Nothing in
//! raw_data is ever deleted.
//!
//! One registry, `VENDORS`: a vendor is its mappers, schemas and queries, its file here with a
//! `pub const VENDOR: Vendor` (name, entities, the variables it reads), and one entry in the
//! list. The command line lists vendors and variables from it. A flag only one vendor reads
//! (`--max-issue-events`) is that vendor's `Options`, declared in its file (meaning, range,
//! default); `cli.rs` shows it under the vendor's heading in `extract --help`.

mod datadog;
mod github;
pub mod http;
mod pagerduty;
mod pages;
mod refresh;
pub mod sentry;
pub mod singer;
mod state;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use serde_json::Value as Json;

use http::HttpError;
use state::State;

/// Every vendor `weir extract` knows, in the order `all` runs them.
pub const VENDORS: [&Vendor; 4] = [
    &pagerduty::VENDOR,
    &sentry::VENDOR,
    &github::VENDOR,
    &datadog::VENDOR,
];

/// A vendor: what it is called, what it fetches, what it reads from the environment.
pub struct Vendor {
    pub name: &'static str,
    pub entities: &'static [&'static str],
    pub variables: &'static [Variable],
    extract: for<'r> fn(&'r Request<'r>, &'r str) -> Extraction<'r>,
}

/// One vendor's run, on the extract's async runtime.
type Extraction<'r> = Pin<Box<dyn Future<Output = Result<Vec<EntityStats>, ExtractError>> + 'r>>;

/// A setting read from the environment or the project's `.env`.
pub struct Variable {
    pub name: &'static str,
    /// Other names read when `name` is unset, the first found winning.
    pub aliases: &'static [&'static str],
    /// Without it the vendor cannot run.
    pub required: bool,
    /// What it holds, for `extract --help`.
    pub about: &'static str,
}

impl Vendor {
    /// The vendor named `name`.
    pub fn named(name: &str) -> Option<&'static Vendor> {
        VENDORS.into_iter().find(|v| v.name == name)
    }

    /// The required variables that have no value, under any of their names.
    pub fn missing(&self, var: &dyn Fn(&str) -> Option<String>) -> Vec<&'static Variable> {
        self.variables
            .iter()
            .filter(|v| v.required && v.value(var).is_none())
            .collect()
    }
}

impl Variable {
    fn value(&self, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        std::iter::once(&self.name)
            .chain(self.aliases)
            .find_map(|n| var(n).filter(|v| !v.is_empty()))
    }

    /// `NAME` or `NAME (or ALIAS)`.
    pub fn names(&self) -> String {
        if self.aliases.is_empty() {
            self.name.to_string()
        } else {
            format!("{} (or {})", self.name, self.aliases.join(", "))
        }
    }
}

/// The variables of every vendor, for the end of `extract --help`.
pub fn variables_help() -> String {
    let mut out = String::from("Variables (environment or the project's .env):");
    for vendor in VENDORS {
        out.push_str(&format!("\n  {}:", vendor.name));
        for v in vendor.variables {
            let need = if v.required { "required" } else { "optional" };
            out.push_str(&format!("\n    {:<44} {need}: {}", v.names(), v.about));
        }
    }
    out
}

/// What went wrong, sorted into the user's to fix and weir's.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{name} is not set")]
    MissingVariable { name: String, hint: String },
    #[error("{name} is not a usable URL: {reason}")]
    BadBaseUrl { name: String, reason: String },
    #[error("{name} cannot be sent: {reason}")]
    BadCredential { name: String, reason: String },
    #[error("the HTTP client cannot be built: {reason}")]
    Client { reason: String },
    #[error("the async runtime cannot start: {reason}")]
    Runtime { reason: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("GET {endpoint} answered with a body weir cannot read: {reason}")]
    BadBody { endpoint: String, reason: String },
    #[error(
        "GET {endpoint} has more than 10,000 records in one window; pass a shorter window with --since and --until"
    )]
    WindowTooLarge { endpoint: String },
    #[error("`{path}` cannot be read: {reason}")]
    StateUnreadable { path: String, reason: String },
    #[error("`{path}` is not a state file: {reason}")]
    StateInvalid { path: String, reason: String },
    #[error("cannot write `{path}`: {reason}")]
    Write { path: String, reason: String },
    #[error("the tap `{program}` cannot be started: {reason}")]
    TapNotStarted {
        program: String,
        reason: String,
        /// No such program.
        missing: bool,
    },
    #[error("the tap `{program}` {status}{}", stderr_tail(.stderr))]
    TapFailed {
        program: String,
        /// `exited 3`, or how else it ended.
        status: String,
        /// Its last lines on stderr.
        stderr: Vec<String>,
    },
    #[error("line {line} of the tap's output is refused: {reason}")]
    TapOutput { line: usize, reason: String },
}

/// The last lines a failed tap wrote on stderr, to end its error with.
fn stderr_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return ", saying nothing on stderr".into();
    }
    let mut out = String::from("; its stderr ended with:");
    for l in lines {
        out.push_str("\n  | ");
        out.push_str(l);
    }
    out
}

/// The time window of incremental entities.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// What one run of `weir extract` was asked to do.
pub struct Request<'a> {
    pub root: &'a Path,
    pub entities: &'a [String],
    pub window: Window,
    pub full: bool,
    pub sentry: sentry::Options,
    pub options: http::Options,
    /// Reads a variable from the environment or `.env`.
    pub var: &'a dyn Fn(&str) -> Option<String>,
}

impl Request<'_> {
    fn wants(&self, entity: &str) -> bool {
        self.entities.is_empty() || self.entities.iter().any(|e| e == entity)
    }

    fn require(&self, variable: &Variable) -> Result<String, ExtractError> {
        variable
            .value(self.var)
            .ok_or_else(|| ExtractError::MissingVariable {
                name: variable.name.to_string(),
                hint: format!(
                    "set {} in the environment or in the project's .env",
                    variable.names()
                ),
            })
    }

    fn optional(&self, variable: &Variable) -> Option<String> {
        variable.value(self.var)
    }

    fn base_url(&self, variable: &Variable, default: &str) -> Result<Url, ExtractError> {
        let raw = self
            .optional(variable)
            .unwrap_or_else(|| default.to_string());
        let raw = if raw.ends_with('/') {
            raw
        } else {
            format!("{raw}/")
        };
        Url::parse(&raw).map_err(|e| ExtractError::BadBaseUrl {
            name: variable.name.to_string(),
            reason: e.to_string(),
        })
    }
}

/// What one entity's extraction did.
#[derive(Debug, Default, Clone)]
pub struct EntityStats {
    pub vendor: &'static str,
    pub entity: String,
    pub pages: usize,
    pub records: usize,
    /// Records fetched again by id because they changed or were open (part of `records`).
    pub refreshed: usize,
    pub notes: Vec<String>,
}

/// The text under `field` of each record that has one (the ids of the records a page lists).
fn texts<'r>(records: &'r [Json], field: &'r str) -> impl Iterator<Item = String> + 'r {
    records
        .iter()
        .filter_map(move |r| r.get(field).and_then(Json::as_str))
        .map(String::from)
}

/// The latest timestamp under `field` in `records` (RFC 3339 text), for high-water marks.
fn latest(records: &[Json], field: &str, mark: &mut Option<Timestamp>) {
    for r in records {
        if let Some(t) = r
            .get(field)
            .and_then(Json::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
            && mark.is_none_or(|m| t > m)
        {
            *mark = Some(t);
        }
    }
}

/// `t - d`, or the earliest time there is (a state file may hold any time).
fn before(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_sub(d).unwrap_or(Timestamp::MIN)
}

/// `t + d`, or the latest time there is.
fn after(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// The window of an incremental entity: the flags, else the state's mark less an overlap, else
/// the vendor's default reach. `--full` ignores the mark.
fn window_for(
    req: &Request,
    state: &State,
    entity: &str,
    overlap: SignedDuration,
    default_days: i64,
) -> (Timestamp, Timestamp) {
    let until = req.window.until.unwrap_or_else(Timestamp::now);
    let since = req.window.since.unwrap_or_else(|| {
        let mark = if req.full { None } else { state.mark(entity) };
        match mark {
            Some(m) => before(m, overlap),
            None => before(until, SignedDuration::from_hours(24 * default_days)),
        }
    });
    (since, until)
}

fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Runs one vendor's extraction and returns what each entity did.
pub fn run(vendor: &Vendor, req: &Request) -> Result<Vec<EntityStats>, ExtractError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExtractError::Runtime {
            reason: e.to_string(),
        })?;
    runtime.block_on((vendor.extract)(req, &stamp()))
}

/// What a run's page names start with: the time it started, to the millisecond.
pub fn stamp() -> String {
    Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string()
        .replace('.', "")
}

#[cfg(test)]
mod tests {
    use super::VENDORS;

    /// Every variable a vendor file names is in the registry, so `extract --help` and the
    /// `all` skip notes cannot miss one.
    #[test]
    fn every_variable_read_is_registered() {
        let sources = [
            include_str!("pagerduty.rs"),
            include_str!("sentry.rs"),
            include_str!("github.rs"),
            include_str!("datadog.rs"),
            include_str!("mod.rs"),
            include_str!("http.rs"),
            include_str!("pages.rs"),
            include_str!("state.rs"),
            include_str!("singer.rs"),
        ];
        let known: Vec<&str> = VENDORS
            .iter()
            .flat_map(|v| v.variables)
            .flat_map(|v| std::iter::once(v.name).chain(v.aliases.iter().copied()))
            .collect();
        for source in sources {
            // Every string literal of capitals, digits and underscores, like "GITHUB_ORG".
            for (start, _) in source.match_indices('"') {
                let rest = &source[start + 1..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(rest.len());
                let name = &rest[..end];
                // CARGO_* are cargo's, read at compile time by `env!`.
                let read_at_run_time = !name.starts_with("CARGO_");
                if name.contains('_') && rest[end..].starts_with('"') && read_at_run_time {
                    assert!(known.contains(&name), "`{name}` is read but not registered");
                }
            }
        }
    }
}
