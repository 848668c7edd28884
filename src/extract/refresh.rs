//! Records fetched again by id because a window by creation or last-seen time would miss their
//! later changes: the ids open at the last run and those waiting in the state's `pending`,
//! less what the window just listed. Each id leaves `pending` only once its page is on disk.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use reqwest::Url;
use serde_json::Value as Json;

use super::http::Api;
use super::pages::{Pages, fetch_one};
use super::state::State;
use super::{EntityStats, ExtractError};

/// Ids fetched at once, at most (the client bounds the requests in flight).
const BATCH: usize = 50;

/// Says what to keep as open of a record fetched again (`None`: closed now).
pub type Judge<'j> =
    dyn FnMut(Fetched<'_>, &mut EntityStats) -> Result<Option<Json>, ExtractError> + 'j;

/// One id's fetch: the id, its URL, the record (`None`: gone), the fetch's counts.
type Got = (String, Url, Result<Option<Json>, ExtractError>, EntityStats);

/// What to refresh of one entity, and how.
pub struct Refresh<'a> {
    pub entity: &'a str,
    pub pages: &'a Pages,
    /// Each id's own URL.
    pub url_of: &'a dyn Fn(&str) -> Url,
    /// Where the record is in the body of its URL (see `fetch_one`).
    pub records: Option<&'a str>,
}

/// A record fetched again: `Some` as the vendor has it, `None` when it is gone (404).
pub struct Fetched<'a> {
    pub id: &'a str,
    pub url: &'a Url,
    pub record: Option<Json>,
    /// What the state kept of the id when it was last seen open.
    pub before: Option<&'a Json>,
}

/// Refreshes the ids of `r.entity` that were open or pending and that `listed` (the window's,
/// already on disk) lacks. `open` starts as what the window saw open; `judge` sees each fetched
/// record and says what to keep of it as open (`None`: closed now). The ids open afterwards
/// replace the state's. Returns how many records were gone.
pub async fn refresh(
    api: &Api,
    state: &mut State,
    r: &Refresh<'_>,
    listed: impl IntoIterator<Item = &String>,
    mut open: BTreeMap<String, Json>,
    stats: &mut EntityStats,
    judge: &mut Judge<'_>,
) -> Result<usize, ExtractError> {
    let before = state.open(r.entity);
    state.add_pending(r.entity, before.keys().cloned())?;
    state.done_pending(r.entity, listed)?;
    let wanted: Vec<String> = state.pending(r.entity).into_iter().collect();
    let mut gone = 0;
    for batch in wanted.chunks(BATCH) {
        let fetched: Vec<Got> = futures_util::stream::iter(batch.iter().cloned())
            .map(|id| async move {
                let url = (r.url_of)(&id);
                let mut one = EntityStats::default();
                let slug = format!("refresh-{id}");
                let got = fetch_one(api, r.pages, &slug, &url, r.records, &mut one).await;
                (id, url, got, one)
            })
            .buffer_unordered(BATCH)
            .collect()
            .await;
        let mut done = Vec::new();
        for (id, url, got, one) in fetched {
            stats.pages += one.pages;
            stats.records += one.records;
            stats.refreshed += one.refreshed;
            let record = got?;
            gone += usize::from(record.is_none());
            let seen = Fetched {
                id: &id,
                url: &url,
                record,
                before: before.get(&id),
            };
            if let Some(kept) = judge(seen, stats)? {
                open.insert(id.clone(), kept);
            }
            done.push(id);
        }
        state.done_pending(r.entity, &done)?;
    }
    state.set_open(r.entity, open)?;
    Ok(gone)
}
