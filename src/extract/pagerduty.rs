//! PagerDuty REST API v2: offset/limit paging with `more`; incidents and log entries in
//! `since`/`until` windows (the API reaches one month back by default, six at most per request,
//! and never past offset 10,000), the others refreshed in full.

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::http::{Api, Header, Reset};
use super::pages::{Pages, Paging, walk, walk_all};
use super::state::State;
use super::{
    EntityStats, ExtractError, Extraction, Request, Variable, Vendor, after, iso, latest,
    window_for,
};

pub const VENDOR: Vendor = Vendor {
    name: "pagerduty",
    entities: &["services", "teams", "users", "incidents", "log_entries"],
    variables: &[SECRET, BASE_URL],
    extract: start,
};

const SECRET: Variable = Variable {
    name: "PAGERDUTY_SECRET",
    aliases: &["PAGERDUTY_TOKEN"],
    required: true,
    about: "a REST API key",
};
const BASE_URL: Variable = Variable {
    name: "PAGERDUTY_BASE_URL",
    aliases: &[],
    required: false,
    about: "the API [default: https://api.pagerduty.com]",
};

/// Incidents are filtered by creation time, so a week's overlap refetches the recent ones whose
/// status moved since.
const INCIDENT_OVERLAP: SignedDuration = SignedDuration::from_hours(24 * 7);
const LOG_OVERLAP: SignedDuration = SignedDuration::from_hours(1);
/// Windows of 30 days keep each walk far from the 10,000-offset ceiling.
const WINDOW_DAYS: i64 = 30;

fn start<'r>(req: &'r Request<'r>, stamp: &'r str) -> Extraction<'r> {
    Box::pin(extract(req, stamp))
}

async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let token = req.require(&SECRET)?;
    let base = req.base_url(&BASE_URL, "https://api.pagerduty.com")?;
    let api = Api::new(
        "pagerduty",
        base,
        vec![
            Header::secret("authorization", format!("Token token={token}"), SECRET.name),
            Header::plain("accept", "application/vnd.pagerduty+json;version=2"),
        ],
        Reset::SecondsIn("ratelimit-reset"),
        req.options,
    )?;
    let mut state = State::load(req.root, "pagerduty")?;
    let mut all = Vec::new();
    for entity in VENDOR.entities.iter().filter(|e| req.wants(e)) {
        let pages = Pages::new(req.root, "pagerduty", entity, stamp);
        let mut stats = EntityStats {
            vendor: "pagerduty",
            entity: entity.to_string(),
            ..Default::default()
        };
        let paging = Paging::Offset {
            key: entity,
            limit: 100,
        };
        match *entity {
            "incidents" | "log_entries" => {
                let overlap = if *entity == "incidents" {
                    INCIDENT_OVERLAP
                } else {
                    LOG_OVERLAP
                };
                let (since, until) = window_for(req, &state, entity, overlap, WINDOW_DAYS);
                let mut mark: Option<Timestamp> = None;
                let mut from = since;
                while from < until {
                    let to = after(from, SignedDuration::from_hours(24 * WINDOW_DAYS)).min(until);
                    let mut url = api.base.join(entity).expect("a plain path joins");
                    url.query_pairs_mut()
                        .append_pair("since", &iso(from))
                        .append_pair("until", &iso(to))
                        .append_pair("time_zone", "UTC");
                    if *entity == "incidents" {
                        url.query_pairs_mut()
                            .append_pair("sort_by", "created_at:asc");
                    }
                    walk(
                        &api,
                        &pages,
                        "",
                        url,
                        paging,
                        json!({}),
                        &mut stats,
                        &mut |records| {
                            latest(records, "created_at", &mut mark);
                            true
                        },
                    )
                    .await?;
                    from = to;
                }
                // Every window is on disk: the next run starts from this mark.
                if let Some(m) = mark {
                    state.advance(entity, m)?;
                }
            }
            _ => {
                let mut url = api.base.join(entity).expect("a plain path joins");
                if *entity == "users" {
                    url.query_pairs_mut()
                        .append_pair("include[]", "contact_methods");
                }
                walk_all(&api, &pages, url, paging, &mut stats).await?;
            }
        }
        all.push(stats);
    }
    Ok(all)
}
