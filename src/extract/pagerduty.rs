//! PagerDuty REST API v2: offset/limit paging with `more`; incidents and log entries in
//! `since`/`until` windows (the API reaches one month back by default, six at most per request,
//! and never past offset 10,000), the others refreshed in full.
//!
//! Incidents are listed by creation time, but change long after it. So an incremental run also
//! fetches, one by one (`GET /incidents/{id}`), every incident the window did not list that a
//! log entry since the mark names (acknowledged, escalated, resolved, reassigned...) or that was
//! open at the last run; the open ones are kept in the state file, and the ids to refresh are
//! saved there before the log entries' mark moves and dropped only once their pages are on disk.

use std::collections::{BTreeMap, BTreeSet};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value as Json, json};

use super::http::{Api, Header, Reset};
use super::pages::{Pages, Paging, walk, walk_all};
use super::refresh::{self, Refresh};
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
    // Incidents the window listed, with their status; incidents log entries name.
    let mut listed: BTreeMap<String, String> = BTreeMap::new();
    let mut changed: BTreeSet<String> = BTreeSet::new();
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
                let incidents = *entity == "incidents";
                let overlap = if incidents {
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
                    if incidents {
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
                            for r in records {
                                if incidents {
                                    if let (Some(id), Some(status)) =
                                        (text(r, "id"), text(r, "status"))
                                    {
                                        listed.insert(id, status);
                                    }
                                } else if let Some(id) =
                                    r.get("incident").and_then(|i| text(i, "id"))
                                {
                                    changed.insert(id);
                                }
                            }
                            true
                        },
                    )
                    .await?;
                    from = to;
                }
                // The incidents the log entries name are kept to refresh before their mark
                // moves past them.
                if !incidents {
                    state.add_pending("incidents", std::mem::take(&mut changed))?;
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
    if req.wants("incidents") {
        let stats = all
            .iter_mut()
            .find(|s| s.entity == "incidents")
            .expect("incidents were wanted");
        refresh(req, &api, &mut state, &listed, stamp, stats).await?;
    }
    Ok(all)
}

/// Fetches the incidents that changed or were open and that the window did not list, then keeps
/// the ids of the incidents open now for the next run.
async fn refresh(
    req: &Request<'_>,
    api: &Api,
    state: &mut State,
    listed: &BTreeMap<String, String>,
    stamp: &str,
    stats: &mut EntityStats,
) -> Result<(), ExtractError> {
    let pages = Pages::new(req.root, "pagerduty", "incidents", stamp);
    let url_of = |id: &str| {
        let mut url = api.base.join("incidents/").expect("a plain path joins");
        url.path_segments_mut()
            .expect("an http URL has segments")
            .pop_if_empty()
            .push(id);
        url
    };
    let how = Refresh {
        entity: "incidents",
        pages: &pages,
        url_of: &url_of,
        records: Some("incident"),
    };
    let open: BTreeMap<String, Json> = listed
        .iter()
        .filter(|(_, status)| status.as_str() != "resolved")
        .map(|(id, _)| (id.clone(), json!({})))
        .collect();
    let gone = refresh::refresh(
        api,
        state,
        &how,
        listed.keys(),
        open,
        stats,
        &mut |seen, _| {
            let status = seen.record.as_ref().and_then(|r| text(r, "status"));
            Ok(status.filter(|s| s != "resolved").map(|_| json!({})))
        },
    )
    .await?;
    if gone > 0 {
        stats.notes.push(format!(
            "{gone} incidents to refresh are gone (HTTP 404); their stored rows keep the last status seen"
        ));
    }
    Ok(())
}

fn text(record: &Json, key: &str) -> Option<String> {
    record.get(key).and_then(Json::as_str).map(String::from)
}
