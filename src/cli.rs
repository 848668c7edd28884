//! The command line. Doc comments here are the `--help`.

use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use crate::extract::{self, sentry};

/// weir: local-first reliability analytics. Loads vendor API dumps and incident postmortems from
/// `raw_data/` into an embedded database and exports the reports in `queries/` as CSV.
#[derive(Debug, Parser)]
#[command(name = "weir", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The project folder holding raw_data/, schemas/, mappers/, queries/ and output/
    /// [default: the current directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// The database file; a relative path is taken from the project folder (`--root`), not the
    /// current directory; or a ClickHouse server's URL (`http://HOST:8123/DATABASE`, with
    /// `?cluster=NAME` for a cluster) [env: WEIR_DB] [default: <root>/warehouse.sqlite, or
    /// <root>/warehouse.duckdb with `--engine duckdb`]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The database engine [env: WEIR_ENGINE] [default: duckdb for a `--db` ending in `.duckdb`,
    /// clickhouse for a `--db` URL, otherwise sqlite]
    #[arg(long, global = true, value_name = "ENGINE", value_parser = ["sqlite", "duckdb", "clickhouse"])]
    pub engine: Option<String>,

    /// Keep the database in memory only (also `DB_MODE=MEMORY`); `run` then needs no file at all
    #[arg(long, global = true, conflicts_with = "db")]
    pub in_memory: bool,

    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more about what is done
    #[arg(short, long, global = true)]
    pub verbose: bool,

    /// When another weir is writing the database or raw_data/, wait up to this long for it
    /// instead of stopping at once (0 to 86400)
    #[arg(long, global = true, value_name = "SECONDS", default_value = "0",
          value_parser = wait_seconds, allow_negative_numbers = true)]
    pub wait: Duration,
}

/// How reports are written to output/.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// RFC 4180 CSV with a header row
    Csv,
    /// A JSON array with one object per row
    Json,
    /// Apache Parquet (DuckDB engine only)
    Parquet,
    /// One Excel workbook, output/reports.xlsx (see `--workbook`): an About sheet, then a sheet
    /// per report with typed cells
    Xlsx,
}

/// How run-queries and run write the reports.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The file format of the reports (parquet needs the DuckDB engine)
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,

    /// The file name of the workbook in output/ that `--format xlsx` writes [default:
    /// reports.xlsx]
    #[arg(long, value_name = "FILE")]
    pub workbook: Option<String>,

    /// In CSV, put a `'` before every text cell that starts with `=`, `+`, `-`, `@`, a tab or a
    /// carriage return, so a spreadsheet shows it instead of running it as a formula (OWASP's
    /// rule against CSV injection; the `'` becomes part of the text)
    #[arg(long)]
    pub escape_formulas: bool,
}

/// What to do with a record that cannot be loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OnError {
    /// Load nothing when any record is bad, and list every problem.
    #[default]
    Fail,
    /// Set bad records aside in `weir_rejected` and load the rest.
    Quarantine,
}

/// How run-etl loads.
#[derive(Debug, Clone, Default, Args)]
pub struct EtlArgs {
    /// What to do with a record that cannot be loaded: `fail` loads nothing and lists every
    /// problem; `quarantine` sets bad records aside in the table weir_rejected, loads the rest,
    /// and exits with 3
    #[arg(long, value_enum, value_name = "MODE", default_value_t = OnError::Fail)]
    pub on_error: OnError,

    /// Forget what earlier runs remember and do everything again: read every raw file, even
    /// those loaded before and unchanged since
    #[arg(long)]
    pub full: bool,

    /// Threads that read, parse and map raw files beside the one that writes (1 to 1024)
    /// [default: the number of CPUs]
    #[arg(long, value_name = "N", value_parser = jobs, allow_negative_numbers = true)]
    pub jobs: Option<u16>,
}

/// `--json`, for the commands that end with a summary (a new one flattens it too).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct SummaryArgs {
    /// Print a summary on stdout as one JSON object: the sources with their counts, the files
    /// written with their rows, and every problem with its file, line, column, field and hint
    /// (the exit code is the same; messages stay on stderr)
    #[arg(long)]
    pub json: bool,
}

/// The shells `weir completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script of weir's command line for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "weir", &mut script);
    script
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database and every table in schemas/*.sql (safe to re-run)
    Initialize {
        /// Drop and rebuild every table declared in schemas/, and the history tables mappers ask
        /// for (their rows are lost; run-etl reloads them from raw_data/)
        #[arg(long)]
        recreate: bool,
    },
    /// Load raw_data/<SOURCE>/ through mappers/<SOURCE>.yaml, all or nothing; files loaded before
    /// and unchanged since are skipped
    #[command(name = "run-etl")]
    RunEtl {
        /// Sources to load [env: DIRECTORY_PATH] [default: every folder in raw_data/]
        #[arg(value_name = "SOURCE")]
        sources: Vec<String>,

        #[command(flatten)]
        etl: EtlArgs,

        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Export queries/<NAME>.sql to output/<NAME>.csv (or one workbook with `--format xlsx`)
    #[command(name = "run-queries")]
    RunQueries {
        /// Reports to export [default: every query in queries/]
        #[arg(value_name = "NAME")]
        names: Vec<String>,

        #[command(flatten)]
        report: ReportArgs,

        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Write output/report.html: one page with each report's description, the charts its
    /// query declares (`-- chart:` lines) and its table; opens offline
    Report {
        /// Reports to show [default: every query in queries/]
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// The main job: initialize, run-etl for every source, then run-queries, then the checks
    /// in checks/ when there is such a folder
    Run {
        #[command(flatten)]
        etl: EtlArgs,

        /// Do not run the checks in checks/ after loading
        #[arg(long)]
        no_checks: bool,

        #[command(flatten)]
        summary: SummaryArgs,

        #[command(flatten)]
        report: ReportArgs,
    },
    /// Judge the loaded data by checks/*.yaml and checks/*.sql: print a line per check, write
    /// output/checks.csv and output/check_failures/, record the results in weir_checks; exits
    /// with 4 when a check of severity `error` fails
    Check {
        /// Only these checks, by name, or every check of these tables [default: every check]
        #[arg(long, value_name = "NAME", num_args = 1..)]
        select: Vec<String>,

        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Check schemas, mappers, raw data, queries and checks without writing anything
    Validate {
        #[command(flatten)]
        summary: SummaryArgs,
    },
    /// Scan every text value in the database and every file in output/ for emails, phone
    /// numbers, IP addresses and tokens; exits 1 when any is found outside the columns a mapper
    /// marks `privacy: allow` (prints where, how many and a masked sample, never a raw value)
    #[command(name = "scan-pii")]
    ScanPii,
    /// Write the tables as CSV into a folder with manifest.json (columns, types, rows, each
    /// file's SHA-256, the columns the mappers pseudonymise, drop, mask or redact), for a warehouse on
    /// the other side of a boundary to check and load with `weir import`
    Export {
        /// The folder to write, made whole beside it and renamed into place; a relative path is
        /// taken from the project folder (`--root`)
        #[arg(long, value_name = "DIR")]
        to: PathBuf,

        /// Only these tables (repeatable, or comma-separated) [default: every table in
        /// schemas/; weir's own weir_* tables are never exported]
        #[arg(long, value_name = "TABLE", num_args = 1.., value_delimiter = ',')]
        tables: Vec<String>,

        /// Write each table as Parquet too (DuckDB engine only); the CSV stays the copy whose
        /// hash is the same on every engine, and the one `weir import` loads
        #[arg(long)]
        parquet: bool,

        /// Replace DIR when it holds an earlier export (a folder without manifest.json is
        /// never replaced)
        #[arg(long)]
        force: bool,
    },
    /// Load a folder that `weir export` wrote into this project's database: checks every file's
    /// size and SHA-256 and every table's columns first (any difference: nothing is written),
    /// then replaces the rows of each table the export holds, in one transaction
    Import {
        /// The export folder; a relative path is taken from the project folder (`--root`)
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Fetch vendors' API pages into raw_data/<vendor>_<entity>/ (credentials from the
    /// environment or .env, listed below), or run a Singer tap with `extract singer`
    #[command(after_help = extract::variables_help())]
    Extract(ExtractArgs),
    /// Append a postmortem entry for a new incident to raw_data/incidents/ (the file is made when
    /// missing): every field, the unknown ones as placeholders marked `# to fill`, with the root
    /// causes and severities allowed listed beside them; `weir validate` lists those left
    #[command(name = "new-incident")]
    NewIncident {
        /// The incident's name, e.g. "Payments API 502s"
        name: String,

        /// The incident's date, YYYY-MM-DD [default: today, or the date of `WEIR_NOW`]
        #[arg(long, value_name = "DATE", allow_negative_numbers = true)]
        date: Option<String>,

        /// The YAML file in raw_data/incidents/ to append to, from the project folder [default:
        /// the file holding the newest incident of the same year, else
        /// raw_data/incidents/<year>.yaml]
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Propose schemas/NN_<source>.sql and mappers/<source>.yaml for a raw folder from the records
    /// in it (read as run-etl reads them): column types from the values seen, nested objects
    /// flattened, lists as child tables, a guessed key and version, personal fields
    /// pseudonymised, and comments with counts and masked samples. Review the files, then
    /// `weir validate` and `weir run-etl <source>`
    Infer {
        /// The source's raw folder, `raw_data/<source>`, from the project folder
        #[arg(value_name = "FOLDER")]
        folder: PathBuf,

        /// Where the records are in each body, as dotted keys (e.g. `incidents` for PagerDuty's
        /// `{"incidents": [...]}`) [default: the one list of objects every body holds, else
        /// the body]
        #[arg(long, value_name = "PATH")]
        records: Option<String>,

        /// A field of the key, as dotted keys for a nested one (repeatable, or comma-separated,
        /// for a key of several fields) [default: an id-like field present and unique in every
        /// record]
        #[arg(long, value_name = "FIELD", num_args = 1.., value_delimiter = ',')]
        key: Vec<String>,

        /// Replace the source's schema file and mapper when they are already there
        #[arg(long)]
        force: bool,
    },
    /// Write output/docs/: an entity-relationship diagram per source (<source>.svg) and index.html,
    /// every table with its columns, types, keys and schema comments, the mapper and raw folder
    /// that fill it and the reports that read it; opens offline
    Docs,
    /// Print a completion script for bash, zsh or fish on stdout, e.g.
    /// `weir completions bash > ~/.local/share/bash-completion/completions/weir`
    Completions {
        /// The shell to complete in
        #[arg(value_enum)]
        shell: Shell,
    },
}

impl Command {
    /// The verb's name and whether it was asked for a `--json` summary.
    pub fn summary(&self) -> (&'static str, bool) {
        match self {
            Command::RunEtl { summary, .. } => ("run-etl", summary.json),
            Command::RunQueries { summary, .. } => ("run-queries", summary.json),
            Command::Run { summary, .. } => ("run", summary.json),
            Command::Validate { summary } => ("validate", summary.json),
            Command::Check { summary, .. } => ("check", summary.json),
            Command::Initialize { .. } => ("initialize", false),
            Command::Report { .. } => ("report", false),
            Command::ScanPii => ("scan-pii", false),
            Command::Extract(_) => ("extract", false),
            Command::Export { .. } => ("export", false),
            Command::Import { .. } => ("import", false),
            Command::Infer { .. } => ("infer", false),
            Command::Completions { .. } => ("completions", false),
            Command::NewIncident { .. } => ("new-incident", false),
            Command::Docs => ("docs", false),
        }
    }
}

/// What `weir extract` runs instead of a vendor.
#[derive(Debug, Subcommand)]
pub enum ExtractCommand {
    /// Run a Singer tap (a program on PATH, or a path) and keep what it prints in
    /// raw_data/<SOURCE>/ as JSONL pages, e.g. `weir extract singer jira -- tap-jira --config
    /// jira.json`. The state the last run saved (raw_data/<SOURCE>.state.json) is passed as
    /// `--state FILE`; the tap's last STATE is saved there once it exits 0 and every page is on
    /// disk. A tap that fails advances nothing
    Singer(SingerArgs),
}

/// What `weir extract singer` takes.
#[derive(Debug, Args)]
pub struct SingerArgs {
    /// The source: the folder of raw_data/ its messages go to, and the name of its mapper
    pub source: String,

    /// Messages per page file (1 to 1000000); a page also ends at 16 MiB
    #[arg(long, value_name = "N", default_value = "10000", value_parser = page_messages,
          allow_negative_numbers = true)]
    pub page_messages: u32,

    /// The tap's command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "TAP")]
    pub command: Vec<String>,
}

/// What `weir extract` takes.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ExtractArgs {
    #[command(subcommand)]
    pub tap: Option<ExtractCommand>,

    /// The vendor, or `all`: every vendor whose credentials are set (the others are named and
    /// skipped; `all` never runs a Singer tap)
    #[arg(required = true, value_parser = PossibleValuesParser::new(
        extract::VENDORS.iter().map(|v| v.name).chain(["all"])
    ))]
    pub vendor: Option<String>,

    /// Only this entity (repeatable), e.g. `incidents` [default: all of the vendor's]
    #[arg(long = "entity", value_name = "NAME")]
    pub entities: Vec<String>,

    /// Start of the window of incremental entities (`2026-01-01` or RFC 3339, from 1970 on)
    /// [default: the saved high-water mark less an overlap, else the vendor's default reach]
    #[arg(long, value_name = "TIME", value_parser = time, allow_negative_numbers = true)]
    pub since: Option<Timestamp>,

    /// End of the window of incremental entities [default: now]
    #[arg(long, value_name = "TIME", value_parser = time, allow_negative_numbers = true)]
    pub until: Option<Timestamp>,

    /// Forget what earlier runs remember and do everything again: ignore the saved high-water
    /// marks and fetch each incremental entity's whole default reach
    #[arg(long)]
    pub full: bool,

    /// Seconds before one request times out (0.001 to 3600)
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = timeout_seconds,
          allow_negative_numbers = true)]
    pub timeout: Duration,

    /// Retries of a request that failed with a 5xx, a timeout or a lost connection, or was rate
    /// limited (0 to 20)
    #[arg(long, value_name = "N", default_value = "4", value_parser = retries,
          allow_negative_numbers = true)]
    pub retries: u32,

    #[command(flatten)]
    pub sentry: SentryArgs,
}

/// The flags only Sentry reads; their meaning and range are `extract::sentry::Options`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Sentry")]
pub struct SentryArgs {
    /// At most this many events per Sentry issue (1 to 100000)
    #[arg(long, value_name = "N", default_value_t = sentry::Options::DEFAULT_MAX_ISSUE_EVENTS,
          value_parser = max_issue_events, allow_negative_numbers = true)]
    pub max_issue_events: u64,
}

impl SentryArgs {
    pub fn options(&self) -> sentry::Options {
        sentry::Options {
            max_issue_events: self.max_issue_events,
        }
    }
}

/// A number of seconds in `range`; NaN, infinities and numbers past the range are refused here,
/// before anything turns them into a `Duration` (which panics on them).
fn seconds(text: &str, range: RangeInclusive<f64>) -> Result<Duration, String> {
    let refused = || {
        format!(
            "expected a number of seconds from {} to {}",
            range.start(),
            range.end()
        )
    };
    let n: f64 = text.trim().parse().map_err(|_| refused())?;
    if !range.contains(&n) {
        return Err(refused());
    }
    Ok(Duration::from_secs_f64(n))
}

/// A whole number in `range`.
fn whole<T: TryFrom<u64>>(text: &str, range: RangeInclusive<u64>) -> Result<T, String> {
    let refused = || {
        format!(
            "expected a whole number from {} to {}",
            range.start(),
            range.end()
        )
    };
    let n: u64 = text.trim().parse().map_err(|_| refused())?;
    if !range.contains(&n) {
        return Err(refused());
    }
    T::try_from(n).map_err(|_| refused())
}

/// `--wait`: 0 stops at once when another weir holds the lock; at most a day.
fn wait_seconds(text: &str) -> Result<Duration, String> {
    seconds(text, 0.0..=86_400.0)
}

/// `--timeout`: at least a millisecond (0 would time every request out), at most an hour.
fn timeout_seconds(text: &str) -> Result<Duration, String> {
    seconds(text, 0.001..=3600.0)
}

/// `--retries`: 0 tries each request once.
fn retries(text: &str) -> Result<u32, String> {
    whole(text, 0..=20)
}

/// `--page-messages`: at least one message a page.
fn page_messages(text: &str) -> Result<u32, String> {
    whole(text, 1..=1_000_000)
}

/// `--jobs`: at least one reader.
fn jobs(text: &str) -> Result<u16, String> {
    whole(text, 1..=1024)
}

fn max_issue_events(text: &str) -> Result<u64, String> {
    whole(text, sentry::Options::MAX_ISSUE_EVENTS)
}

/// `--since`/`--until`: a date (midnight UTC) or an RFC 3339 time, from 1970 on.
fn time(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    let parsed = Timestamp::from_str(text).ok().or_else(|| {
        let date = jiff::civil::Date::from_str(text).ok()?;
        jiff::tz::TimeZone::UTC
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .ok()
    });
    parsed
        .filter(|t| *t >= Timestamp::UNIX_EPOCH)
        .ok_or_else(|| {
            "expected a date such as `2026-01-01` or an RFC 3339 time such as \
         `2026-01-01T00:00:00Z`, from 1970 to 9999"
                .to_string()
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
