//! weir: raw vendor dumps and incident postmortems -> an embedded database -> CSV reports and
//! an HTML page of them.

pub mod atomic;
pub mod bookkeeping;
pub mod chart;
pub mod check;
pub mod cli;
pub mod commands;
pub mod docs;
pub mod engine;
pub mod error;
pub mod export;
pub mod extract;
pub mod html;
pub mod infer;
pub mod load;
pub mod lock;
pub mod mapper;
pub mod pii;
pub mod postmortem;
pub mod progress;
pub mod report;
pub mod schema;
pub mod settings;
pub mod summary;
pub mod yaml;

use cli::{Cli, Command};
use error::Result;
use settings::{Settings, Verbosity};
use summary::Summary;

/// Runs one parsed command line. With `--json`, the summary is printed on stdout whatever the
/// outcome, and the outcome is returned as it is (for `main` to print on stderr and exit with).
pub fn run(cli: Cli) -> Result<()> {
    let (verb, json) = cli.command.summary();
    let mut summary = Summary::new(verb);
    let outcome = dispatch(cli, &mut summary);
    if !json {
        return outcome;
    }
    summary.close(&outcome);
    match summary.print() {
        Err(e) if outcome.is_ok() => Err(anyhow::Error::from(e)
            .context("cannot write the summary to stdout")
            .into()),
        _ => outcome,
    }
}

fn dispatch(cli: Cli, summary: &mut Summary) -> Result<()> {
    if let Command::Completions { shell } = cli.command {
        // Before the settings: a completion script needs no project folder.
        return commands::completions::run(&cli::completions(shell));
    }
    let settings = Settings::resolve(&cli.global)?;
    match cli.command {
        Command::Initialize { recreate } => commands::initialize::run(&settings, recreate),
        Command::RunEtl { sources, etl, .. } => {
            commands::run_etl::run(&settings, &sources, &load_options(&settings, &etl), summary)
        }
        Command::RunQueries { names, report, .. } => {
            commands::run_queries::run(&settings, &names, &export(&report)?, summary)
        }
        Command::Report { names } => commands::report::run(&settings, &names),
        Command::Run {
            etl,
            report,
            no_checks,
            ..
        } => commands::run::run(
            &settings,
            &load_options(&settings, &etl),
            &export(&report)?,
            !no_checks,
            summary,
        ),
        Command::NewIncident { name, date, file } => commands::new_incident::run(
            &settings,
            &commands::new_incident::Args { name, date, file },
        ),
        Command::Docs => commands::docs::run(&settings),
        Command::Check { select, .. } => commands::check::run(&settings, &select, summary),
        Command::Validate { .. } => commands::validate::run(&settings, summary),
        Command::ScanPii => commands::scan_pii::run(&settings),
        Command::Export {
            to,
            tables,
            parquet,
            force,
        } => commands::export::run(
            &settings,
            &commands::export::Options {
                to: &to,
                tables: &tables,
                parquet,
                force,
            },
        ),
        Command::Import { dir } => commands::import::run(&settings, &dir),
        Command::Infer {
            folder,
            records,
            key,
            force,
        } => commands::infer::run(
            &settings,
            &commands::infer::Args {
                folder,
                records,
                key,
                force,
            },
        ),
        Command::Completions { .. } => unreachable!("completions return above"),
        Command::Extract(cli::ExtractArgs {
            tap: Some(cli::ExtractCommand::Singer(tap)),
            ..
        }) => {
            let args = commands::extract_singer::Args {
                source: tap.source,
                command: tap.command,
                page_messages: tap.page_messages as usize,
            };
            commands::extract_singer::run(&settings, &args)
        }
        Command::Extract(args) => {
            // clap accepts only the vendors' names and `all`, and requires one without `singer`.
            let vendor = args.vendor.as_deref().unwrap_or("all");
            let all = extract::Vendor::named(vendor).is_none();
            let vendors = match extract::Vendor::named(vendor) {
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

/// `--on-error`, `--full` and `--jobs` as a load takes them (the load's number comes later, from
/// the database).
fn load_options(settings: &Settings, args: &cli::EtlArgs) -> load::Options {
    load::Options {
        on_error: match args.on_error {
            cli::OnError::Fail => load::OnError::Fail,
            cli::OnError::Quarantine => load::OnError::Quarantine,
        },
        jobs: args.jobs.map_or_else(
            || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            usize::from,
        ),
        full: args.full,
        progress: settings.verbosity >= Verbosity::Normal,
        ..load::Options::default()
    }
}

/// `--format`, `--workbook` and `--escape-formulas` as the export takes them; a flag the format
/// has no use for is refused rather than ignored.
fn export(args: &cli::ReportArgs) -> Result<report::Export> {
    use error::{Diagnostic, Error};
    let format = match args.format {
        cli::Format::Csv => report::Format::Csv {
            escape_formulas: args.escape_formulas,
        },
        cli::Format::Json => report::Format::Json,
        cli::Format::Parquet => report::Format::Parquet,
        cli::Format::Xlsx => report::Format::Xlsx,
    };
    let refuse = |flag: &str, hint: &str| {
        Err(Error::problem(
            Diagnostic::new(format!(
                "`{flag}` does nothing with `--format {}`",
                format.extension()
            ))
            .hint(hint),
        ))
    };
    if args.escape_formulas && !matches!(format, report::Format::Csv { .. }) {
        let hint = if format == report::Format::Xlsx {
            "a workbook holds text as text, never as a formula: leave out `--escape-formulas`"
        } else {
            "it escapes CSV cells: leave it out, or write CSV"
        };
        return refuse("--escape-formulas", hint);
    }
    if args.workbook.is_some() && format != report::Format::Xlsx {
        return refuse(
            "--workbook",
            "it names the workbook that `--format xlsx` writes: add that, or leave it out",
        );
    }
    let workbook = match &args.workbook {
        Some(name) => report::workbook_name(name)?,
        None => report::DEFAULT_WORKBOOK.to_string(),
    };
    Ok(report::Export { format, workbook })
}
