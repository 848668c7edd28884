//! weir: raw vendor dumps and incident postmortems -> an embedded database -> CSV reports.

pub mod bookkeeping;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod error;
pub mod extract;
pub mod load;
pub mod lock;
pub mod mapper;
pub mod progress;
pub mod report;
pub mod schema;
pub mod settings;
pub mod yaml;

use cli::{Cli, Command};
use error::Result;
use settings::Settings;

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let settings = Settings::resolve(&cli.global)?;
    match cli.command {
        Command::Initialize { recreate } => commands::initialize::run(&settings, recreate),
        Command::RunEtl { sources, etl } => commands::run_etl::run(&settings, &sources, &etl),
        Command::RunQueries { names, format } => {
            commands::run_queries::run(&settings, &names, format)
        }
        Command::Run { etl } => commands::run::run(&settings, &etl),
        Command::Validate => commands::validate::run(&settings),
        Command::Extract {
            vendor,
            entities,
            since,
            until,
            full,
            max_issue_events,
            timeout,
            retries,
        } => {
            let args = commands::extract::Args {
                vendor,
                entities,
                since,
                until,
                full,
                max_issue_events,
                timeout,
                retries,
            };
            commands::extract::run(&settings, &args)
        }
    }
}
