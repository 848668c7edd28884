//! `weir extract singer <source> -- <tap…>`: runs a Singer tap and keeps its messages in
//! raw_data/<source>/ as JSONL pages, passing it the state the last run saved
//! (raw_data/<source>.state.json) and saving the one it ends with.

use crate::error::{Diagnostic, Error, Location, Result};
use crate::extract::{self, ExtractError, singer};
use crate::settings::{Settings, Verbosity};

/// The command line, resolved.
pub struct Args {
    pub source: String,
    /// The tap's program and its arguments.
    pub command: Vec<String>,
    pub page_messages: usize,
}

pub fn run(settings: &Settings, args: &Args) -> Result<()> {
    check_source(&args.source)?;
    // One writer of raw_data/ at a time; run-etl reads it under a shared lock.
    let _raw = crate::lock::raw_data(settings, crate::lock::Mode::Exclusive, "extract")?;
    let stamp = extract::stamp();
    let tap = singer::Tap {
        root: &settings.root,
        source: &args.source,
        command: &args.command,
        page_messages: args.page_messages,
        quiet: settings.verbosity == Verbosity::Quiet,
        stamp: &stamp,
    };
    let stats = singer::run(&tap).map_err(|e| failure(&args.source, e))?;
    let state = if stats.state_saved {
        format!("; state saved to {}", singer::state_file(&args.source))
    } else {
        "; the tap printed no STATE, so the state is unchanged".to_string()
    };
    let resumed = if stats.resumed {
        " (resumed from the saved state)"
    } else {
        ""
    };
    settings.say(format!(
        "extracted {:<28} {:>4} pages {:>7} records{resumed}{state}",
        args.source, stats.pages, stats.records
    ));
    Ok(())
}

/// A source is one folder of raw_data/, and its state file must not be a vendor's.
fn check_source(source: &str) -> Result<()> {
    let plain = !source.is_empty()
        && !source.starts_with('.')
        && source
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !plain {
        return Err(Error::problem(
            Diagnostic::new(format!("`{source}` is not a source name"))
                .field("SOURCE")
                .hint("name the folder of raw_data/ to write, with letters, digits, `_` and `-`, e.g. `jira_issues`"),
        ));
    }
    if extract::Vendor::named(source).is_some() {
        return Err(Error::problem(
            Diagnostic::new(format!(
                "`{source}` is the name of weir's own extractor, whose state is raw_data/{source}.state.json"
            ))
            .field("SOURCE")
            .hint(format!("name the tap's source otherwise, e.g. `{source}_singer`")),
        ));
    }
    Ok(())
}

/// A tap that cannot start, fails or prints something other than Singer messages is the user's
/// to fix (exit 1); a disk that refuses a page or the state is weir's (exit 2).
fn failure(source: &str, e: ExtractError) -> Error {
    let message = format!("{source}: {e}");
    let problem = |hint: String| Error::problem(Diagnostic::new(message.clone()).hint(hint));
    let kept = format!(
        "the state is not advanced; pages already in raw_data/{source}/ are kept, and the next run starts from the old state"
    );
    match e {
        ExtractError::TapNotStarted { missing: true, .. } => problem(
            "install the tap (e.g. `pipx install tap-…`) or give its path; the command comes after `--`".into(),
        ),
        ExtractError::TapNotStarted { .. } => {
            problem("check that the tap's file is a program you may run".into())
        }
        ExtractError::TapFailed { .. } => problem(format!("its stderr says why; {kept}")),
        ExtractError::TapOutput { .. } => problem(format!(
            "a tap prints only Singer messages (JSON objects with a `type`) on stdout, its logs on stderr; {kept}"
        )),
        ExtractError::StateUnreadable { path, .. } | ExtractError::StateInvalid { path, .. } => {
            Error::problem(
                Diagnostic::new(message)
                    .at(Location::file(path))
                    .hint("it holds the `value` of the tap's last STATE message: fix it, or move it away and the tap starts over"),
            )
        }
        _ => Error::Internal(anyhow::anyhow!(message)),
    }
}
