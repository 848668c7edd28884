//! The command line. Doc comments here are the `--help`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// current directory [env: WEIR_DB] [default: <root>/warehouse.sqlite, or
    /// <root>/warehouse.duckdb with `--engine duckdb`]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The database engine [env: WEIR_ENGINE] [default: duckdb for a `--db` ending in `.duckdb`,
    /// otherwise sqlite]
    #[arg(long, global = true, value_name = "ENGINE", value_parser = ["sqlite", "duckdb"])]
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
    /// instead of stopping at once
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0.0)]
    pub wait: f64,
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

    /// Read every raw file again, even those loaded before and unchanged since
    #[arg(long)]
    pub full: bool,

    /// Threads that read, parse and map raw files beside the one that writes [default: the
    /// number of CPUs]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database and every table in schemas/*.sql (safe to re-run)
    Initialize {
        /// Drop and rebuild every table declared in schemas/ (their rows are lost; run-etl reloads
        /// them from raw_data/)
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
    },
    /// Export queries/<NAME>.sql to output/<NAME>.csv
    #[command(name = "run-queries")]
    RunQueries {
        /// Reports to export [default: every query in queries/]
        #[arg(value_name = "NAME")]
        names: Vec<String>,

        /// The file format of the reports (parquet needs the DuckDB engine)
        #[arg(long, value_enum, default_value_t = Format::Csv)]
        format: Format,
    },
    /// The main job: initialize, run-etl for every source, then run-queries
    Run {
        #[command(flatten)]
        etl: EtlArgs,
    },
    /// Check schemas, mappers, raw data and queries without writing anything
    Validate,
    /// Fetch a vendor's API pages into raw_data/<vendor>_<entity>/ (credentials from the
    /// environment or .env: PAGERDUTY_SECRET; SENTRY_API_KEY + SENTRY_ORG; GITHUB_API_KEY +
    /// GITHUB_ORG; DATADOG_API_KEY + DATADOG_APPLICATION_KEY)
    Extract {
        /// The vendor, or `all`
        #[arg(value_parser = ["pagerduty", "sentry", "github", "datadog", "all"])]
        vendor: String,

        /// Only this entity (repeatable), e.g. `incidents` [default: all of the vendor's]
        #[arg(long = "entity", value_name = "NAME")]
        entities: Vec<String>,

        /// Start of the window of incremental entities (`2026-01-01` or RFC 3339) [default: the
        /// saved high-water mark less an overlap, else the vendor's default reach]
        #[arg(long, value_name = "TIME")]
        since: Option<String>,

        /// End of the window of incremental entities [default: now]
        #[arg(long, value_name = "TIME")]
        until: Option<String>,

        /// Ignore the saved high-water marks and fetch the whole default reach
        #[arg(long)]
        full: bool,

        /// At most this many events per Sentry issue
        #[arg(long, value_name = "N", default_value_t = 100)]
        max_issue_events: usize,

        /// Seconds before one request times out
        #[arg(long, value_name = "SECONDS", default_value_t = 30.0)]
        timeout: f64,

        /// Retries of a request that failed with a 5xx, a timeout or a lost connection
        #[arg(long, value_name = "N", default_value_t = 4)]
        retries: u32,
    },
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
