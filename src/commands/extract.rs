//! `weir extract <vendor|all>`: fetches vendors' list endpoints page by page into
//! raw_data/<vendor>_<entity>/ as weir page envelopes, and keeps high-water marks in
//! raw_data/<vendor>.state.json.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use crate::error::{Diagnostic, Error, Result, did_you_mean};
use crate::extract::{self, ExtractError, Request, Window, http};
use crate::settings::{Settings, Verbosity};

pub struct Args {
    pub vendor: String,
    pub entities: Vec<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub full: bool,
    pub max_issue_events: usize,
    pub timeout: f64,
    pub retries: u32,
}

fn time(flag: &str, value: &Option<String>) -> Result<Option<Timestamp>> {
    let Some(v) = value else { return Ok(None) };
    let parsed = Timestamp::from_str(v).ok().or_else(|| {
        let date = jiff::civil::Date::from_str(v).ok()?;
        jiff::tz::TimeZone::UTC
            .to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
            .ok()
    });
    parsed.map(Some).ok_or_else(|| {
        Error::problem(
            Diagnostic::new(format!("`{v}` is not a date or date-time"))
                .field(flag)
                .hint("write `2026-01-01` or `2026-01-01T00:00:00Z`"),
        )
    })
}

pub fn run(settings: &Settings, args: &Args) -> Result<()> {
    let vendors: Vec<&str> = if args.vendor == "all" {
        extract::VENDORS.to_vec()
    } else {
        vec![args.vendor.as_str()]
    };
    for e in &args.entities {
        if !vendors
            .iter()
            .any(|v| extract::entities(v).contains(&e.as_str()))
        {
            let known: Vec<&str> = vendors
                .iter()
                .flat_map(|v| extract::entities(v).iter().copied())
                .collect();
            let mut d =
                Diagnostic::new(format!("no entity `{e}` for {}", args.vendor)).field("--entity");
            d.hint = did_you_mean(e, known.iter().copied())
                .or_else(|| Some(format!("the entities are: {}", known.join(", "))));
            return Err(Error::problem(d));
        }
    }
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        return Err(Error::problem(
            Diagnostic::new("the timeout must be a positive number of seconds").field("--timeout"),
        ));
    }
    // One writer of raw_data/ at a time; run-etl reads it under a shared lock.
    let _raw = crate::lock::raw_data(settings, crate::lock::Mode::Exclusive, "extract")?;
    let var = |name: &str| settings.var(name);
    let window = Window {
        since: time("--since", &args.since)?,
        until: time("--until", &args.until)?,
    };
    for vendor in vendors {
        // With `all`, an entity named for one vendor does not narrow the others to nothing.
        let entities: Vec<String> = args
            .entities
            .iter()
            .filter(|e| extract::entities(vendor).contains(&e.as_str()))
            .cloned()
            .collect();
        if !args.entities.is_empty() && entities.is_empty() {
            continue;
        }
        let req = Request {
            root: &settings.root,
            entities: &entities,
            window,
            full: args.full,
            max_issue_events: args.max_issue_events,
            options: http::Options {
                timeout: Duration::from_secs_f64(args.timeout),
                retries: args.retries,
                in_flight: 4,
                quiet: settings.verbosity == Verbosity::Quiet,
            },
            var: &var,
        };
        let stats = extract::run(vendor, &req).map_err(|e| failure(vendor, e))?;
        for s in stats {
            settings.say(format!(
                "extracted {:<28} {:>4} pages {:>7} records",
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

/// The user's problems (configuration, refused tokens, answers weir cannot read) exit 1; a
/// network that keeps failing, or a disk that refuses a page, is weir's (exit 2).
fn failure(vendor: &str, e: ExtractError) -> Error {
    let message = format!("{vendor}: {e}");
    match e {
        ExtractError::MissingVariable { hint, .. } => {
            Error::problem(Diagnostic::new(message).hint(hint))
        }
        ExtractError::Http(http::HttpError::Refused { .. }) => Error::problem(
            Diagnostic::new(message)
                .hint("the token was refused; set a valid one (it is never printed)"),
        ),
        ExtractError::BadCredential { .. } => Error::problem(
            Diagnostic::new(message)
                .hint("check the value for stray spaces, quotes or line breaks"),
        ),
        ExtractError::BadBaseUrl { .. } => Error::problem(
            Diagnostic::new(message).hint("write a URL such as `https://api.example.com`"),
        ),
        ExtractError::WindowTooLarge { .. } | ExtractError::BadBody { .. } => Error::problem(
            Diagnostic::new(message)
                .hint("no state was advanced; pages written before this one are complete and kept"),
        ),
        ExtractError::Http(http::HttpError::Status { .. }) => {
            Error::problem(Diagnostic::new(message))
        }
        ExtractError::Http(http::HttpError::GaveUp { .. }) | ExtractError::Write { .. } => {
            Error::Internal(anyhow::anyhow!(message))
        }
    }
}
