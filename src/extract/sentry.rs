//! Sentry: cursors in the `Link` header, followed while `results="true"` (a short page is not the
//! end: the issues endpoint drops rows after paging). Issues in a `start`/`end` window by last
//! seen; then the events of the issues just fetched, at most `--max-issue-events` each.
//!
//! Resolving or ignoring an issue does not move its `lastSeen`, so an incremental run also
//! fetches, one by one (`GET …/issues/{id}/`), the issues last seen unresolved or ignored that
//! the window did not list (kept in the state file with their project). An issue deleted
//! upstream (404) is written as a tombstone page (`"synthetic"`, status `deleted`), so it stops
//! counting as unresolved.

use std::collections::BTreeMap;

use std::ops::RangeInclusive;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value as Json, json};

use super::http::{Api, Header, Reset};
use super::pages::{Pages, Paging, walk, walk_all, write_synthetic};
use super::refresh::{self, Fetched, Refresh};
use super::state::State;
use super::{
    EntityStats, ExtractError, Extraction, Request, Variable, Vendor, iso, latest, window_for,
};

pub const VENDOR: Vendor = Vendor {
    name: "sentry",
    entities: &["projects", "teams", "issues", "issue_events"],
    variables: &[API_KEY, ORG, BASE_URL],
    extract: start,
};

const API_KEY: Variable = Variable {
    name: "SENTRY_API_KEY",
    aliases: &[],
    required: true,
    about: "an auth token",
};
const ORG: Variable = Variable {
    name: "SENTRY_ORG",
    aliases: &[],
    required: true,
    about: "the organization's slug",
};
const BASE_URL: Variable = Variable {
    name: "SENTRY_BASE_URL",
    aliases: &[],
    required: false,
    about: "the API, for self-hosted Sentry [default: https://sentry.io]",
};

/// Sentry's own settings, from its flags (`cli.rs` shows them under "Sentry").
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// At most this many events per issue (`--max-issue-events`). Zero is refused: to fetch no
    /// events, leave `issue_events` out of `--entity`.
    pub max_issue_events: u64,
}

impl Options {
    pub const MAX_ISSUE_EVENTS: RangeInclusive<u64> = 1..=100_000;
    pub const DEFAULT_MAX_ISSUE_EVENTS: u64 = 100;
}

/// Every list pages by cursor, and a short page is not the last.
const CURSOR: Paging = Paging::Link { results: true };
const ISSUE_OVERLAP: SignedDuration = SignedDuration::from_hours(1);
/// Without a mark, the API's own default reach for issues.
const DEFAULT_DAYS: i64 = 90;

fn start<'r>(req: &'r Request<'r>, stamp: &'r str) -> Extraction<'r> {
    Box::pin(extract(req, stamp))
}

async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let token = req.require(&API_KEY)?;
    let org = req.require(&ORG)?;
    let base = req.base_url(&BASE_URL, "https://sentry.io")?;
    let api = Api::new(
        "sentry",
        base,
        vec![Header::secret(
            "authorization",
            format!("Bearer {token}"),
            API_KEY.name,
        )],
        Reset::EpochIn("x-sentry-rate-limit-reset"),
        req.options,
    )?;
    let mut state = State::load(req.root, "sentry")?;
    let mut all = Vec::new();
    for entity in ["projects", "teams"].into_iter().filter(|e| req.wants(e)) {
        let pages = Pages::new(req.root, "sentry", entity, stamp);
        let mut stats = EntityStats {
            vendor: "sentry",
            entity: entity.into(),
            ..Default::default()
        };
        let mut url = api
            .base
            .join(&format!("api/0/organizations/{org}/{entity}/"))
            .expect("a plain path joins");
        url.query_pairs_mut().append_pair("per_page", "100");
        walk_all(&api, &pages, url, CURSOR, &mut stats).await?;
        all.push(stats);
    }
    if req.wants("issues") || req.wants("issue_events") {
        let (mut stats, listed, mark) = issues(req, &api, &org, &state, stamp).await?;
        let ids: Vec<String> = listed.keys().cloned().collect();
        if req.wants("issues") {
            refresh(req, &api, &org, &mut state, &listed, stamp, &mut stats).await?;
        }
        all.push(stats);
        if req.wants("issue_events") {
            all.push(issue_events(req, &api, &org, &ids, stamp).await?);
        }
        // The issues and their events are on disk: the next run starts from this mark.
        if let Some(m) = mark {
            state.advance("issues", m)?;
        }
    }
    Ok(all)
}

/// An issue as the listing saw it: its status and its project's id.
struct Seen {
    status: Option<String>,
    project: Option<String>,
}

/// Fetches the issues last seen open that the window did not list, then keeps the ids of the
/// issues open now (unresolved, ignored, anything but resolved) for the next run.
async fn refresh(
    req: &Request<'_>,
    api: &Api,
    org: &str,
    state: &mut State,
    listed: &BTreeMap<String, Seen>,
    stamp: &str,
    stats: &mut EntityStats,
) -> Result<(), ExtractError> {
    let pages = Pages::new(req.root, "sentry", "issues", stamp);
    let url_of = |id: &str| {
        api.base
            .join(&format!("api/0/organizations/{org}/issues/{id}/"))
            .expect("a plain path joins")
    };
    let how = Refresh {
        entity: "issues",
        pages: &pages,
        url_of: &url_of,
        records: None,
    };
    let keep = |status: Option<&str>, project: Option<&String>| {
        (status != Some("resolved") && status != Some("deleted"))
            .then(|| json!({ "project": project }))
    };
    let open: BTreeMap<String, Json> = listed
        .iter()
        .filter_map(|(id, s)| Some((id.clone(), keep(s.status.as_deref(), s.project.as_ref())?)))
        .collect();
    let mut judge = |seen: Fetched<'_>, stats: &mut EntityStats| {
        let Some(issue) = seen.record else {
            // Gone upstream: a tombstone, so the stored issue stops counting as open.
            let project = seen.before.and_then(|k| k.get("project")).cloned();
            let tombstone = json!({
                "id": seen.id,
                "status": "deleted",
                "project": { "id": project.unwrap_or(Json::Null) },
            });
            let note = format!(
                "GET {} answered HTTP 404: the issue is gone",
                Api::endpoint(seen.url)
            );
            let slug = format!("gone-{}", seen.id);
            write_synthetic(&pages, &slug, seen.url, tombstone, &note)?;
            stats.pages += 1;
            stats.records += 1;
            return Ok(None);
        };
        let status = issue.get("status").and_then(Json::as_str);
        let project = issue
            .pointer("/project/id")
            .and_then(Json::as_str)
            .map(String::from);
        Ok(keep(status, project.as_ref()))
    };
    let gone = refresh::refresh(api, state, &how, listed.keys(), open, stats, &mut judge).await?;
    if gone > 0 {
        stats.notes.push(format!(
            "{gone} issues last seen open are gone upstream (HTTP 404): written as status `deleted`"
        ));
    }
    Ok(())
}

/// The issues last seen in the window, by id, and the latest `lastSeen`.
async fn issues(
    req: &Request<'_>,
    api: &Api,
    org: &str,
    state: &State,
    stamp: &str,
) -> Result<(EntityStats, BTreeMap<String, Seen>, Option<Timestamp>), ExtractError> {
    let pages = Pages::new(req.root, "sentry", "issues", stamp);
    let mut stats = EntityStats {
        vendor: "sentry",
        entity: "issues".into(),
        ..Default::default()
    };
    let (since, until) = window_for(req, state, "issues", ISSUE_OVERLAP, DEFAULT_DAYS);
    let mut url = api
        .base
        .join(&format!("api/0/organizations/{org}/issues/"))
        .expect("a plain path joins");
    // `query=` (empty) asks for every status; the default is only unresolved issues.
    url.query_pairs_mut()
        .append_pair("query", "")
        .append_pair("start", &iso(since))
        .append_pair("end", &iso(until))
        .append_pair("limit", "100");
    let mut listed: BTreeMap<String, Seen> = BTreeMap::new();
    let mut mark: Option<Timestamp> = None;
    let on_records = &mut |records: &[Json]| {
        latest(records, "lastSeen", &mut mark);
        for r in records {
            if let Some(id) = r.get("id").and_then(Json::as_str) {
                let text = |p: &str| r.pointer(p).and_then(Json::as_str).map(String::from);
                let seen = Seen {
                    status: text("/status"),
                    project: text("/project/id"),
                };
                listed.insert(id.to_string(), seen);
            }
        }
        true
    };
    walk(
        api,
        &pages,
        "",
        url,
        CURSOR,
        json!({}),
        &mut stats,
        on_records,
    )
    .await?;
    Ok((stats, listed, mark))
}

/// The events of the issues `ids`, at most `--max-issue-events` each.
async fn issue_events(
    req: &Request<'_>,
    api: &Api,
    org: &str,
    ids: &[String],
    stamp: &str,
) -> Result<EntityStats, ExtractError> {
    let pages = Pages::new(req.root, "sentry", "issue_events", stamp);
    let mut stats = EntityStats {
        vendor: "sentry",
        entity: "issue_events".into(),
        ..Default::default()
    };
    let max = usize::try_from(req.sentry.max_issue_events).unwrap_or(usize::MAX);
    for id in ids {
        let mut url = api
            .base
            .join(&format!("api/0/organizations/{org}/issues/{id}/events/"))
            .expect("a plain path joins");
        // Ask for no more than the cap, so a small cap does not fetch a page of 100.
        let per_page = max.clamp(1, 100);
        url.query_pairs_mut()
            .append_pair("per_page", &per_page.to_string());
        let mut taken = 0;
        let context = json!({ "issue_id": id });
        let slug = format!("issue-{id}");
        walk(
            api,
            &pages,
            &slug,
            url,
            CURSOR,
            context,
            &mut stats,
            &mut |records| {
                taken += records.len();
                taken < max
            },
        )
        .await?;
    }
    Ok(stats)
}
