//! One entity's pages: how a list endpoint pages (`Paging`), walking it page by page (`walk`),
//! and writing each page atomically as a weir page envelope (`Pages`).

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use reqwest::Url;
use reqwest::header::HeaderMap;
use serde_json::{Value as Json, json};

use super::http::Api;
use super::{EntityStats, ExtractError};

/// How a list endpoint pages.
#[derive(Debug, Clone, Copy)]
pub enum Paging {
    /// PagerDuty: `limit`/`offset`, records under `key`, keep going while `more` is true.
    Offset { key: &'static str, limit: u32 },
    /// GitHub and Sentry: follow the `Link` header's `rel="next"`; with `results`, only while its
    /// `results="true"` (Sentry always sends a next link).
    Link { results: bool },
    /// Datadog: `page` (0-based) and `size`; records are the body or its `key`; stop on a short page.
    Number {
        page: &'static str,
        size: &'static str,
        per: u32,
        key: Option<&'static str>,
    },
}

/// Where an entity's pages go and what the run writes in them.
pub struct Pages {
    dir: PathBuf,
    vendor: &'static str,
    entity: String,
    stamp: String,
}

impl Pages {
    pub fn new(root: &Path, vendor: &'static str, entity: &str, stamp: &str) -> Pages {
        Pages {
            dir: root.join("raw_data").join(format!("{vendor}_{entity}")),
            vendor,
            entity: entity.to_string(),
            stamp: stamp.to_string(),
        }
    }

    /// Writes one page atomically: a hidden temporary file, synced, then moved into place under
    /// a name no other page has (raw data is history: a page never replaces another).
    fn write(&self, slug: &str, n: usize, envelope: &Json) -> Result<(), ExtractError> {
        let base = if slug.is_empty() {
            format!("{}-p{n:05}", self.stamp)
        } else {
            format!("{}-{slug}-p{n:05}", self.stamp)
        };
        let temp = self.dir.join(format!(".{base}.json.tmp"));
        let fail = |path: &Path, e: std::io::Error| ExtractError::Write {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| fail(&self.dir, e))?;
        let text = serde_json::to_vec_pretty(envelope).expect("a JSON value serialises");
        let written = (|| -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&temp)?;
            f.write_all(&text)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(fail(&temp, e));
        }
        place(&temp, &self.dir, &base, "json")
    }
}

/// Moves the finished, synced `temp` into `dir` as `<base>.<ext>`, or `<base>-2.<ext>` and so on
/// when the name is taken (raw data is history: a page never replaces another).
pub(super) fn place(temp: &Path, dir: &Path, base: &str, ext: &str) -> Result<(), ExtractError> {
    for k in 1.. {
        let name = if k == 1 {
            format!("{base}.{ext}")
        } else {
            format!("{base}-{k}.{ext}")
        };
        let target = dir.join(&name);
        // A hard link fails when the name is taken, where a rename would replace the file.
        match std::fs::hard_link(temp, &target) {
            Ok(()) => {
                let _ = std::fs::remove_file(temp);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let _ = std::fs::remove_file(temp);
                return Err(ExtractError::Write {
                    path: target.display().to_string(),
                    reason: e.to_string(),
                });
            }
        }
    }
    unreachable!("some name is free")
}

/// The fetch time a page keeps, to the millisecond: it is the version of every record on the page,
/// and two fetches within one second must not tie.
fn now() -> String {
    Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// The headers worth keeping with a page: paging and rate limits. Never auth.
fn kept_headers(headers: &HeaderMap) -> Json {
    let mut out = serde_json::Map::new();
    for (name, value) in headers {
        let n = name.as_str();
        if (n == "link" || n.contains("ratelimit") || n == "retry-after")
            && let Ok(v) = value.to_str()
        {
            out.insert(n.to_string(), Json::String(v.to_string()));
        }
    }
    Json::Object(out)
}

/// The `rel="next"` URL of a `Link` header (RFC 8288), if any; with `results`, only while it
/// says Sentry's `results="true"`.
fn next_link(headers: &HeaderMap, results: bool) -> Result<Option<String>, String> {
    let Some(header) = headers.get("link") else {
        return Ok(None);
    };
    let text = header
        .to_str()
        .map_err(|_| "a `Link` header that is not text".to_string())?;
    let links = parse_link_header::parse_with_rel(text)
        .map_err(|e| format!("a `Link` header weir cannot read ({e})"))?;
    let Some(next) = links.get("next") else {
        return Ok(None);
    };
    if results && next.params.get("results").map(String::as_str) != Some("true") {
        return Ok(None);
    }
    Ok(Some(next.raw_uri.clone()))
}

/// The records of a page: the body itself, or its list under the paging's key.
fn records(body: &Json, paging: Paging) -> Result<&[Json], String> {
    let key = match paging {
        Paging::Offset { key, .. } | Paging::Number { key: Some(key), .. } => Some(key),
        _ => None,
    };
    let list = match key {
        Some(k) => body.get(k),
        None => Some(body),
    };
    list.and_then(Json::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| match key {
            Some(k) => format!("expected an object with a `{k}` list"),
            None => "expected a list".to_string(),
        })
}

/// Where the next request of a walk starts: the offset or page number it asks for (a `Link`
/// walk follows the URL instead).
#[derive(Default)]
struct Cursor {
    offset: u64,
    number: u64,
}

impl Cursor {
    fn apply(&self, paging: Paging, url: &mut Url) {
        match paging {
            Paging::Offset { limit, .. } => set_query(
                url,
                &[
                    ("limit", limit.to_string()),
                    ("offset", self.offset.to_string()),
                ],
            ),
            Paging::Number {
                page, size, per, ..
            } => set_query(
                url,
                &[(page, self.number.to_string()), (size, per.to_string())],
            ),
            Paging::Link { .. } => {}
        }
    }

    /// Moves past the page just written; `false` when it was the last.
    fn advance(
        &mut self,
        paging: Paging,
        page: (&Json, &HeaderMap),
        count: usize,
        api: &Api,
        url: &mut Url,
    ) -> Result<bool, ExtractError> {
        let endpoint = Api::endpoint(url);
        let (body, headers) = page;
        match paging {
            Paging::Offset { limit, .. } => {
                if !body["more"].as_bool().unwrap_or(false) {
                    return Ok(false);
                }
                // Keep going by the limit the API echoes, which may be smaller than asked.
                let echoed = body["limit"].as_u64().unwrap_or(u64::from(limit)).max(1);
                self.offset += echoed;
                if self.offset + echoed > 10_000 {
                    return Err(ExtractError::WindowTooLarge { endpoint });
                }
                Ok(true)
            }
            Paging::Number { per, .. } => {
                self.number += 1;
                Ok(count >= per as usize)
            }
            Paging::Link { results } => {
                let bad_link = |reason: String| ExtractError::BadBody {
                    endpoint: endpoint.clone(),
                    reason,
                };
                let Some(next) = next_link(headers, results).map_err(bad_link)? else {
                    return Ok(false);
                };
                *url = Url::parse(&next)
                    .or_else(|_| api.base.join(&next))
                    .map_err(|e| bad_link(format!("a `Link` next URL weir cannot read ({e})")))?;
                Ok(true)
            }
        }
    }
}

/// Walks every page of one list, writing each as it comes. `on_records` sees each page's records
/// (for high-water marks and the ids of dependent lists); it returns `false` to stop early.
#[allow(clippy::too_many_arguments)]
pub async fn walk(
    api: &Api,
    pages: &Pages,
    slug: &str,
    mut url: Url,
    paging: Paging,
    context: Json,
    stats: &mut EntityStats,
    on_records: &mut dyn FnMut(&[Json]) -> bool,
) -> Result<(), ExtractError> {
    let mut cursor = Cursor::default();
    api.fetching(&pages.entity);
    for n in 1.. {
        cursor.apply(paging, &mut url);
        let endpoint = Api::endpoint(&url);
        let response = api.get(&url).await?;
        let bad_body = |reason: String| ExtractError::BadBody {
            endpoint: endpoint.clone(),
            reason,
        };
        let body: Json = serde_json::from_slice(&response.body)
            .map_err(|e| bad_body(format!("not JSON ({e})")))?;
        let page = envelope(n, pages, &url, &context, &response.headers, body);
        let list = records(&page["body"], paging).map_err(bad_body)?;
        let count = list.len();
        pages.write(slug, n, &page)?;
        stats.pages += 1;
        stats.records += count;
        api.page_written(
            &pages.entity,
            count,
            &format!("{} page {n}", url.path()),
            &format!(
                "{endpoint} page {n}: {count} records ({} so far)",
                stats.records
            ),
        );
        if !on_records(list)
            || !cursor.advance(
                paging,
                (&page["body"], &response.headers),
                count,
                api,
                &mut url,
            )?
        {
            break;
        }
    }
    Ok(())
}

/// The weir page envelope of a response body.
fn envelope(
    n: usize,
    pages: &Pages,
    url: &Url,
    context: &Json,
    headers: &HeaderMap,
    body: Json,
) -> Json {
    let params: serde_json::Map<String, Json> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), Json::String(v.into_owned())))
        .collect();
    json!({
        "weir_page": n,
        "source": pages.vendor,
        "endpoint": url.path(),
        "params": params,
        "fetched_at": now(),
        "context": context,
        "headers": kept_headers(headers),
        "body": body,
    })
}

/// One record fetched by its own URL (a refresh), written as a page like a list's. `records`
/// says where the record is in this body, for the loader (the mapper's `records:` describes the
/// list endpoint's body: `{"incident": {…}}` against `{"incidents": […]}`). `Ok(None)` when the
/// vendor answers 404: the record is gone, and nothing is written.
pub async fn fetch_one(
    api: &Api,
    pages: &Pages,
    slug: &str,
    url: &Url,
    records: Option<&str>,
    stats: &mut EntityStats,
) -> Result<Option<Json>, ExtractError> {
    let endpoint = Api::endpoint(url);
    let response = match api.get(url).await {
        Ok(r) => r,
        Err(super::http::HttpError::Status { status: 404, .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let body: Json = serde_json::from_slice(&response.body).map_err(|e| ExtractError::BadBody {
        endpoint: endpoint.clone(),
        reason: format!("not JSON ({e})"),
    })?;
    let mut page = envelope(1, pages, url, &json!({}), &response.headers, body);
    if let Some(path) = records {
        page["records"] = json!(path);
    }
    let record = match records {
        Some(path) => path.split('.').try_fold(&page["body"], |v, k| v.get(k)),
        None => Some(&page["body"]),
    };
    let Some(record) = record.filter(|r| r.is_object()).cloned() else {
        return Err(ExtractError::BadBody {
            endpoint,
            reason: format!("expected one record under `{}`", records.unwrap_or(".")),
        });
    };
    pages.write(slug, 1, &page)?;
    stats.pages += 1;
    stats.records += 1;
    stats.refreshed += 1;
    Ok(Some(record))
}

/// A record weir writes itself where the vendor has none left to give: `note` says why (the
/// page's `synthetic`), and `body` is the record as weir knows it (a tombstone).
pub fn write_synthetic(
    pages: &Pages,
    slug: &str,
    url: &Url,
    body: Json,
    note: &str,
) -> Result<(), ExtractError> {
    let mut page = envelope(1, pages, url, &json!({}), &HeaderMap::new(), body);
    page["synthetic"] = json!(note);
    pages.write(slug, 1, &page)
}

/// A whole list refreshed in full: no context, no early stop.
pub async fn walk_all(
    api: &Api,
    pages: &Pages,
    url: Url,
    paging: Paging,
    stats: &mut EntityStats,
) -> Result<(), ExtractError> {
    walk(api, pages, "", url, paging, json!({}), stats, &mut |_| true).await
}

/// Replaces or adds query parameters, keeping the others.
fn set_query(url: &mut Url, pairs: &[(&str, String)]) {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !pairs.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut q = url.query_pairs_mut();
    q.clear();
    for (k, v) in &kept {
        q.append_pair(k, v);
    }
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
}
