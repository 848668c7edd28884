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
        Command::Extract(args) => {
            // clap accepts only the vendors' names and `all`.
            let all = extract::Vendor::named(&args.vendor).is_none();
            let vendors = match extract::Vendor::named(&args.vendor) {
                Some(vendor) => vec![vendor],
                None => extract::VENDORS.to_vec(),
            };
            let args = commands::extract::Args {
                all,
                vendors,
                entities: args.entities,
                window: extract::Window {
                    since: args.since,
                    until: args.until,
                },
                full: args.full,
                sentry: args.sentry.options(),
                timeout: args.timeout,
                retries: args.retries,
            };
            commands::extract::run(&settings, &args)
        }
    }
}
