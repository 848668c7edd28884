//! `weir extract <vendor|all>`: fetches vendors' list endpoints page by page into
//! raw_data/<vendor>_<entity>/ as weir page envelopes, and keeps high-water marks in
//! raw_data/<vendor>.state.json. With `all`, a vendor whose credentials are not set is named
//! and skipped; only when none is set does the run fail. (`extract singer` is
//! `extract_singer.rs`.)

use std::time::Duration;

use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::extract::{self, ExtractError, Request, Vendor, Window, http, sentry};
use crate::settings::{Settings, Verbosity};

/// The command line, resolved.
pub struct Args {
    /// The vendors asked for: one, or every vendor with `all`.
    pub vendors: Vec<&'static Vendor>,
    pub all: bool,
    pub entities: Vec<String>,
    pub window: Window,
    pub full: bool,
    pub sentry: sentry::Options,
    pub timeout: Duration,
    pub retries: u32,
}

pub fn run(settings: &Settings, args: &Args) -> Result<()> {
    check_entities(args)?;
    if let Window {
        since: Some(since),
        until: Some(until),
    } = args.window
        && since >= until
    {
        return Err(Error::problem(
            Diagnostic::new(format!("`{since}` is not before `--until {until}`"))
                .field("--since")
                .hint("pass a --since earlier than --until"),
        ));
    }
    let var = |name: &str| settings.var(name);
    let vendors = configured(settings, args, &var)?;
    // One writer of raw_data/ at a time; run-etl reads it under a shared lock.
    let _raw = crate::lock::raw_data(settings, crate::lock::Mode::Exclusive, "extract")?;
    for vendor in vendors {
        let entities = asked_of(vendor, args).unwrap_or_default();
        let req = Request {
            root: &settings.root,
            entities: &entities,
            window: args.window,
            full: args.full,
            sentry: args.sentry,
            options: http::Options {
                timeout: args.timeout,
                retries: args.retries,
                in_flight: 4,
                quiet: settings.verbosity == Verbosity::Quiet,
            },
            var: &var,
        };
        let stats = extract::run(vendor, &req).map_err(|e| failure(vendor.name, e))?;
        for s in stats {
            let refreshed = if s.refreshed > 0 {
                format!(" ({} refreshed by id)", s.refreshed)
            } else {
                String::new()
            };
            settings.say(format!(
                "extracted {:<28} {:>4} pages {:>7} records{refreshed}",
                format!("{}_{}", s.vendor, s.entity),
                s.pages,
                s.records
            ));
            for note in s.notes {
                settings.say(format!("  note: {note}"));
            }
        }
    }
    Ok(())
}

/// Every `--entity` belongs to one of the vendors asked for.
fn check_entities(args: &Args) -> Result<()> {
    let known = || args.vendors.iter().flat_map(|v| v.entities.iter().copied());
    for e in &args.entities {
        if !known().any(|k| k == e) {
            let asked = if args.all {
                "all"
            } else {
                args.vendors[0].name
            };
            let mut d = Diagnostic::new(format!("no entity `{e}` for {asked}")).field("--entity");
            let names: Vec<&str> = known().collect();
            d.hint = did_you_mean(e, known())
                .or_else(|| Some(format!("the entities are: {}", names.join(", "))));
            return Err(Error::problem(d));
        }
    }
    Ok(())
}

/// The entities of `vendor` the run asks for (empty: all of them); `None` when `--entity` names
/// only other vendors' entities, so that with `all` one vendor's entity does not narrow the
/// others to nothing.
fn asked_of(vendor: &Vendor, args: &Args) -> Option<Vec<String>> {
    let entities: Vec<String> = args
        .entities
        .iter()
        .filter(|e| vendor.entities.contains(&e.as_str()))
        .cloned()
        .collect();
    (args.entities.is_empty() || !entities.is_empty()).then_some(entities)
}

/// The vendors to run. With `all`, those without credentials are named on stderr and skipped,
/// and it is an error only when none is left; one vendor asked by name meets its own missing
/// variable when it starts.
fn configured(
    settings: &Settings,
    args: &Args,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<&'static Vendor>> {
    let asked: Vec<&'static Vendor> = args
        .vendors
        .iter()
        .copied()
        .filter(|v| asked_of(v, args).is_some())
        .collect();
    if !args.all {
        return Ok(asked);
    }
    let mut ready = Vec::new();
    for vendor in &asked {
        let missing = vendor.missing(var);
        if missing.is_empty() {
            ready.push(*vendor);
        } else {
            let names: Vec<String> = missing.iter().map(|v| v.names()).collect();
            let verb = if missing.len() == 1 { "is" } else { "are" };
            settings.say(format!(
                "note: skipped {}: {} {verb} not set",
                vendor.name,
                names.join(" and ")
            ));
        }
    }
    if ready.is_empty() {
        let needs: Vec<String> = asked
            .iter()
            .map(|v| {
                let names: Vec<String> = v
                    .variables
                    .iter()
                    .filter(|m| m.required)
                    .map(|m| m.names())
                    .collect();
                format!("{}: {}", v.name, names.join(" and "))
            })
            .collect();
        return Err(Error::problem(
            Diagnostic::new("no vendor has its credentials set").hint(format!(
                "set them in the environment or in the project's .env ({})",
                needs.join("; ")
            )),
        ));
    }
    Ok(ready)
}

/// The user's problems (configuration, refused tokens, answers or files weir cannot read) exit
/// 1; a network that keeps failing, a disk that refuses a page, or a machine that cannot start
/// a client is weir's (exit 2).
fn failure(vendor: &str, e: ExtractError) -> Error {
    let message = format!("{vendor}: {e}");
    let problem = |hint: &str| Error::problem(Diagnostic::new(message.clone()).hint(hint));
    match e {
        ExtractError::MissingVariable { ref hint, .. } => problem(hint),
        ExtractError::Http(http::HttpError::Refused { .. }) => {
            problem("the token was refused; set a valid one (it is never printed)")
        }
        ExtractError::BadCredential { .. } => {
            problem("check the value for stray spaces, quotes or line breaks")
        }
        ExtractError::BadBaseUrl { .. } => problem("write a URL such as `https://api.example.com`"),
        ExtractError::WindowTooLarge { .. } | ExtractError::BadBody { .. } => {
            problem("no state was advanced; pages written before this one are complete and kept")
        }
        ExtractError::StateUnreadable { .. } => problem(
            "make it a file weir may read; or move it away, and the next extract fetches each \
             incremental entity's whole default reach",
        ),
        ExtractError::StateInvalid { .. } => problem(
            "weir writes `{\"high_water\": {\"<entity>\": \"<RFC 3339 time>\"}}`: fix it; or move \
             it away, and the next extract fetches each incremental entity's whole default reach",
        ),
        ExtractError::Http(http::HttpError::Status { .. }) => {
            Error::problem(Diagnostic::new(message))
        }
        ExtractError::Http(http::HttpError::GaveUp { .. })
        | ExtractError::Write { .. }
        | ExtractError::TapNotStarted { .. }
        | ExtractError::TapFailed { .. }
        | ExtractError::TapOutput { .. }
        | ExtractError::Client { .. }
        | ExtractError::Runtime { .. } => Error::Internal(anyhow::anyhow!(message)),
    }
}
