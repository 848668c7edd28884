//! `weir extract`: the vendors' list endpoints, page by page, into `raw_data/<vendor>_<entity>/`
//! as weir page envelopes. Only this folder names reqwest, tokio or a vendor.
//!
//! Each page is written to a hidden temporary file and renamed, so run-etl never reads half a
//! page; the state file (`raw_data/<vendor>.state.json`) records each entity's high-water mark and
//! is saved only after the pages it covers are on disk. Nothing in raw_data is ever deleted.

mod datadog;
mod github;
pub mod http;
mod pagerduty;
mod sentry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use reqwest::Url;
use serde_json::{Value as Json, json};

use http::{Api, HttpError};

pub const VENDORS: [&str; 4] = ["pagerduty", "sentry", "github", "datadog"];

/// What went wrong, sorted into the user's to fix and weir's.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{name} is not set")]
    MissingVariable { name: String, hint: String },
    #[error("{name} is not a usable URL: {reason}")]
    BadBaseUrl { name: String, reason: String },
    #[error("{name} cannot be sent: {reason}")]
    BadCredential { name: String, reason: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("GET {endpoint} answered with a body weir cannot read: {reason}")]
    BadBody { endpoint: String, reason: String },
    #[error(
        "GET {endpoint} has more than 10,000 records in one window; pass a shorter window with --since and --until"
    )]
    WindowTooLarge { endpoint: String },
    #[error("cannot write `{path}`: {reason}")]
    Write { path: String, reason: String },
}

/// The time window of incremental entities.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

/// What one run of `weir extract` was asked to do.
pub struct Request<'a> {
    pub root: &'a Path,
    pub entities: &'a [String],
    pub window: Window,
    pub full: bool,
    pub max_issue_events: usize,
    pub options: http::Options,
    /// Reads a variable from the environment or `.env`.
    pub var: &'a dyn Fn(&str) -> Option<String>,
}

impl Request<'_> {
    fn wants(&self, entity: &str) -> bool {
        self.entities.is_empty() || self.entities.iter().any(|e| e == entity)
    }

    fn require(&self, name: &str, alternatives: &[&str]) -> Result<String, ExtractError> {
        for n in std::iter::once(&name).chain(alternatives) {
            if let Some(v) = (self.var)(n).filter(|v| !v.is_empty()) {
                return Ok(v);
            }
        }
        let also = if alternatives.is_empty() {
            String::new()
        } else {
            format!(" (or {})", alternatives.join(", "))
        };
        Err(ExtractError::MissingVariable {
            name: name.to_string(),
            hint: format!("set {name}{also} in the environment or in the project's .env"),
        })
    }

    fn base_url(&self, variable: &str, default: &str) -> Result<Url, ExtractError> {
        let raw = (self.var)(variable)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string());
        let raw = if raw.ends_with('/') {
            raw
        } else {
            format!("{raw}/")
        };
        Url::parse(&raw).map_err(|e| ExtractError::BadBaseUrl {
            name: variable.to_string(),
            reason: e.to_string(),
        })
    }
}

/// What one entity's extraction did.
#[derive(Debug, Default, Clone)]
pub struct EntityStats {
    pub vendor: &'static str,
    pub entity: String,
    pub pages: usize,
    pub records: usize,
    pub notes: Vec<String>,
}

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
    stamp: String,
}

impl Pages {
    fn new(root: &Path, vendor: &'static str, entity: &str, stamp: &str) -> Pages {
        Pages {
            dir: root.join("raw_data").join(format!("{vendor}_{entity}")),
            vendor,
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
        for k in 1.. {
            let name = if k == 1 {
                format!("{base}.json")
            } else {
                format!("{base}-{k}.json")
            };
            let target = self.dir.join(&name);
            // A hard link fails when the name is taken, where a rename would replace the file.
            match std::fs::hard_link(&temp, &target) {
                Ok(()) => {
                    let _ = std::fs::remove_file(&temp);
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    let _ = std::fs::remove_file(&temp);
                    return Err(fail(&target, e));
                }
            }
        }
        unreachable!("some name is free")
    }
}

fn now() -> String {
    Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The headers worth keeping with a page: paging and rate limits. Never auth.
fn kept_headers(headers: &reqwest::header::HeaderMap) -> Json {
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

/// The `rel="next"` URL of a `Link` header, and whether its `results` says there is more.
fn next_link(headers: &reqwest::header::HeaderMap, results: bool) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    for part in link.split(',') {
        let mut pieces = part.split(';').map(str::trim);
        let url = pieces.next()?.trim_start_matches('<').trim_end_matches('>');
        let attrs: Vec<&str> = pieces.collect();
        if !attrs.iter().any(|a| a.replace(' ', "") == "rel=\"next\"") {
            continue;
        }
        if results
            && !attrs
                .iter()
                .any(|a| a.replace(' ', "") == "results=\"true\"")
        {
            return None;
        }
        return Some(url.to_string());
    }
    None
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
    let mut n = 0;
    let mut offset: u64 = 0;
    let mut number: u64 = 0;
    loop {
        match paging {
            Paging::Offset { limit, .. } => {
                set_query(
                    &mut url,
                    &[("limit", limit.to_string()), ("offset", offset.to_string())],
                );
            }
            Paging::Number {
                page, size, per, ..
            } => {
                set_query(
                    &mut url,
                    &[(page, number.to_string()), (size, per.to_string())],
                );
            }
            Paging::Link { .. } => {}
        }
        let endpoint = Api::endpoint(&url);
        let response = api.get(&url).await?;
        let body: Json =
            serde_json::from_slice(&response.body).map_err(|e| ExtractError::BadBody {
                endpoint: endpoint.clone(),
                reason: format!("not JSON ({e})"),
            })?;
        let records = match paging {
            Paging::Offset { key, .. } | Paging::Number { key: Some(key), .. } => body.get(key),
            _ => Some(&body),
        };
        let Some(records) = records.and_then(Json::as_array) else {
            let expected = match paging {
                Paging::Offset { key, .. } | Paging::Number { key: Some(key), .. } => {
                    format!("an object with a `{key}` list")
                }
                _ => "a list".to_string(),
            };
            return Err(ExtractError::BadBody {
                endpoint,
                reason: format!("expected {expected}"),
            });
        };
        let count = records.len();
        let params: serde_json::Map<String, Json> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Json::String(v.into_owned())))
            .collect();
        n += 1;
        let envelope = json!({
            "weir_page": n,
            "source": pages.vendor,
            "endpoint": url.path(),
            "params": params,
            "fetched_at": now(),
            "context": context,
            "headers": kept_headers(&response.headers),
            "body": body,
        });
        pages.write(slug, n, &envelope)?;
        stats.pages += 1;
        stats.records += count;
        api.progress(&format!(
            "{} page {n}: {count} records ({} so far)",
            endpoint, stats.records
        ));
        let go_on = on_records(envelope["body"].get_key(paging));
        if !go_on {
            return Ok(());
        }
        match paging {
            Paging::Offset { limit, .. } => {
                if !envelope["body"]
                    .get("more")
                    .and_then(Json::as_bool)
                    .unwrap_or(false)
                {
                    return Ok(());
                }
                // Keep going by the limit the API echoes, which may be smaller than asked.
                let echoed = envelope["body"]
                    .get("limit")
                    .and_then(Json::as_u64)
                    .unwrap_or(u64::from(limit));
                offset += echoed.max(1);
                if offset + echoed > 10_000 {
                    return Err(ExtractError::WindowTooLarge { endpoint });
                }
            }
            Paging::Number { per, .. } => {
                if count < per as usize {
                    return Ok(());
                }
                number += 1;
            }
            Paging::Link { results } => match next_link(&response.headers, results) {
                Some(next) => {
                    url = Url::parse(&next)
                        .or_else(|_| api.base.join(&next))
                        .map_err(|e| ExtractError::BadBody {
                            endpoint,
                            reason: format!("a `Link` next URL weir cannot read ({e})"),
                        })?;
                }
                None => return Ok(()),
            },
        }
    }
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

trait RecordsOf {
    fn get_key(&self, paging: Paging) -> &[Json];
}

impl RecordsOf for Json {
    fn get_key(&self, paging: Paging) -> &[Json] {
        let list = match paging {
            Paging::Offset { key, .. } | Paging::Number { key: Some(key), .. } => self.get(key),
            _ => Some(self),
        };
        list.and_then(Json::as_array).map_or(&[], Vec::as_slice)
    }
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

/// High-water marks per entity, saved after the pages they cover.
#[derive(Debug, Default)]
pub struct State {
    path: PathBuf,
    marks: BTreeMap<String, String>,
}

impl State {
    fn load(root: &Path, vendor: &str) -> Result<State, ExtractError> {
        let path = root.join("raw_data").join(format!("{vendor}.state.json"));
        let marks = match std::fs::read(&path) {
            Ok(bytes) => {
                let v: Json = serde_json::from_slice(&bytes).map_err(|e| ExtractError::BadBody {
                    endpoint: path.display().to_string(),
                    reason: format!("the state file is not JSON ({e}); delete it to extract everything again"),
                })?;
                v.get("high_water")
                    .and_then(Json::as_object)
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Err(_) => BTreeMap::new(),
        };
        Ok(State { path, marks })
    }

    fn mark(&self, entity: &str) -> Option<Timestamp> {
        self.marks.get(entity)?.parse().ok()
    }

    /// Records `entity`'s new mark and writes the file atomically.
    fn advance(&mut self, entity: &str, mark: Timestamp) -> Result<(), ExtractError> {
        if self.mark(entity).is_some_and(|old| old >= mark) {
            return Ok(());
        }
        self.marks.insert(
            entity.to_string(),
            mark.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        let text = serde_json::to_vec_pretty(&json!({ "high_water": self.marks }))
            .expect("a map serialises");
        let temp = self.path.with_extension("json.tmp");
        let fail = |e: std::io::Error| ExtractError::Write {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(&temp, text).map_err(fail)?;
        std::fs::rename(&temp, &self.path).map_err(fail)
    }
}

/// The latest timestamp under `field` in `records` (RFC 3339 text), for high-water marks.
fn latest(records: &[Json], field: &str, mark: &mut Option<Timestamp>) {
    for r in records {
        if let Some(t) = r
            .get(field)
            .and_then(Json::as_str)
            .and_then(|s| s.parse::<Timestamp>().ok())
            && mark.is_none_or(|m| t > m)
        {
            *mark = Some(t);
        }
    }
}

/// The window of an incremental entity: the flags, else the state's mark less an overlap, else
/// the vendor's default reach. `--full` ignores the mark.
fn window_for(
    req: &Request,
    state: &State,
    entity: &str,
    overlap: jiff::SignedDuration,
    default_days: i64,
) -> (Timestamp, Timestamp) {
    let until = req.window.until.unwrap_or_else(Timestamp::now);
    let since = req.window.since.unwrap_or_else(|| {
        let mark = if req.full { None } else { state.mark(entity) };
        match mark {
            Some(m) => m - overlap,
            None => until - jiff::SignedDuration::from_hours(24 * default_days),
        }
    });
    (since, until)
}

fn iso(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Runs one vendor's extraction and returns what each entity did.
pub fn run(vendor: &str, req: &Request) -> Result<Vec<EntityStats>, ExtractError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ExtractError::Write {
            path: "(the async runtime)".into(),
            reason: e.to_string(),
        })?;
    let stamp = Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string()
        .replace('.', "");
    runtime.block_on(async {
        match vendor {
            "pagerduty" => pagerduty::extract(req, &stamp).await,
            "sentry" => sentry::extract(req, &stamp).await,
            "github" => github::extract(req, &stamp).await,
            "datadog" => datadog::extract(req, &stamp).await,
            other => unreachable!("clap only accepts known vendors, not `{other}`"),
        }
    })
}

/// The entities each vendor has, for checking `--entity`.
pub fn entities(vendor: &str) -> &'static [&'static str] {
    match vendor {
        "pagerduty" => &pagerduty::ENTITIES,
        "sentry" => &sentry::ENTITIES,
        "github" => &github::ENTITIES,
        "datadog" => &datadog::ENTITIES,
        _ => &[],
    }
}
