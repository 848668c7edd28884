//! Sentry: cursors in the `Link` header, followed while `results="true"` (a short page is not the
//! end: the issues endpoint drops rows after paging). Issues in a `start`/`end` window by last
//! seen; then the events of the issues just fetched, at most `--max-issue-events` each.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value as Json, json};

use super::http::{Api, Reset};
use super::{
    EntityStats, ExtractError, Pages, Paging, Request, State, iso, latest, walk, walk_all,
    window_for,
};

pub const ENTITIES: [&str; 4] = ["projects", "teams", "issues", "issue_events"];

const ISSUE_OVERLAP: SignedDuration = SignedDuration::from_hours(1);
/// Without a mark, the API's own default reach for issues.
const DEFAULT_DAYS: i64 = 90;

pub async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let token = req.require("SENTRY_API_KEY", &[])?;
    let org = req.require("SENTRY_ORG", &[])?;
    let base = req.base_url("SENTRY_BASE_URL", "https://sentry.io")?;
    let api = Api::new(
        "sentry",
        base,
        vec![("authorization", format!("Bearer {token}"), true)],
        Reset::EpochIn("x-sentry-rate-limit-reset"),
        req.options,
    )
    .map_err(|e| ExtractError::BadCredential {
        name: "SENTRY_API_KEY".into(),
        reason: e.to_string(),
    })?;
    let cursor = Paging::Link { results: true };
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
        walk_all(&api, &pages, url, cursor, &mut stats).await?;
        all.push(stats);
    }
    if req.wants("issues") || req.wants("issue_events") {
        let pages = Pages::new(req.root, "sentry", "issues", stamp);
        let mut stats = EntityStats {
            vendor: "sentry",
            entity: "issues".into(),
            ..Default::default()
        };
        let (since, until) = window_for(req, &state, "issues", ISSUE_OVERLAP, DEFAULT_DAYS);
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
        let mut ids: Vec<String> = Vec::new();
        let mut mark: Option<Timestamp> = None;
        walk(
            &api,
            &pages,
            "",
            url,
            cursor,
            json!({}),
            &mut stats,
            &mut |records| {
                latest(records, "lastSeen", &mut mark);
                ids.extend(
                    records
                        .iter()
                        .filter_map(|r| r.get("id").and_then(Json::as_str))
                        .map(String::from),
                );
                true
            },
        )
        .await?;
        all.push(stats);
        if req.wants("issue_events") {
            let pages = Pages::new(req.root, "sentry", "issue_events", stamp);
            let mut stats = EntityStats {
                vendor: "sentry",
                entity: "issue_events".into(),
                ..Default::default()
            };
            for id in &ids {
                let mut url = api
                    .base
                    .join(&format!("api/0/organizations/{org}/issues/{id}/events/"))
                    .expect("a plain path joins");
                // Ask for no more than the cap, so a small cap does not fetch a page of 100.
                let per_page = req.max_issue_events.clamp(1, 100);
                url.query_pairs_mut()
                    .append_pair("per_page", &per_page.to_string());
                let mut taken = 0;
                let max = req.max_issue_events;
                walk(
                    &api,
                    &pages,
                    &format!("issue-{id}"),
                    url,
                    cursor,
                    json!({ "issue_id": id }),
                    &mut stats,
                    &mut |records| {
                        taken += records.len();
                        taken < max
                    },
                )
                .await?;
            }
            all.push(stats);
        }
        if let Some(m) = mark {
            state.advance("issues", m)?;
        }
    }
    Ok(all)
}
