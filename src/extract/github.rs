//! GitHub REST API: `Link`-header paging; the org's teams and repos, then each repo's teams and
//! hooks, one request chain per repo, run concurrently (the client bounds requests in flight).
//! None of these lists has a `since`, so all are refreshed in full.

use futures_util::future::join_all;
use serde_json::{Value as Json, json};

use super::http::{Api, HttpError, Reset};
use super::{EntityStats, ExtractError, Pages, Paging, Request, walk, walk_all};

pub const ENTITIES: [&str; 4] = ["teams", "repos", "repo_teams", "repo_hooks"];

pub async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let token = req.require("GITHUB_API_KEY", &["GITHUB_TOKEN"])?;
    let org = req.require("GITHUB_ORG", &[])?;
    let base = req.base_url("GITHUB_BASE_URL", "https://api.github.com")?;
    let api = Api::new(
        "github",
        base,
        vec![
            ("authorization", format!("Bearer {token}"), true),
            ("accept", "application/vnd.github+json".into(), false),
            ("x-github-api-version", "2022-11-28".into(), false),
        ],
        Reset::EpochIn("x-ratelimit-reset"),
        req.options,
    )
    .map_err(|e| ExtractError::BadCredential {
        name: "GITHUB_API_KEY".into(),
        reason: e.to_string(),
    })?;
    let link = Paging::Link { results: false };
    let list = |path: String| {
        let mut url = api.base.join(&path).expect("a plain path joins");
        url.query_pairs_mut().append_pair("per_page", "100");
        url
    };
    let mut all = Vec::new();
    if req.wants("teams") {
        let mut stats = EntityStats {
            vendor: "github",
            entity: "teams".into(),
            ..Default::default()
        };
        let pages = Pages::new(req.root, "github", "teams", stamp);
        walk_all(
            &api,
            &pages,
            list(format!("orgs/{org}/teams")),
            link,
            &mut stats,
        )
        .await?;
        all.push(stats);
    }
    // Repo teams and hooks are per repo: the repos come first, whether asked for or not.
    let chains: Vec<&str> = ["repo_teams", "repo_hooks"]
        .into_iter()
        .filter(|e| req.wants(e))
        .collect();
    if req.wants("repos") || !chains.is_empty() {
        let mut stats = EntityStats {
            vendor: "github",
            entity: "repos".into(),
            ..Default::default()
        };
        let pages = Pages::new(req.root, "github", "repos", stamp);
        let mut repos: Vec<String> = Vec::new();
        let mut url = list(format!("orgs/{org}/repos"));
        url.query_pairs_mut().append_pair("sort", "full_name");
        walk(
            &api,
            &pages,
            "",
            url,
            link,
            json!({}),
            &mut stats,
            &mut |records| {
                repos.extend(
                    records
                        .iter()
                        .filter_map(|r| r.get("full_name").and_then(Json::as_str))
                        .map(String::from),
                );
                true
            },
        )
        .await?;
        all.push(stats);
        for entity in chains {
            let pages = Pages::new(req.root, "github", entity, stamp);
            let suffix = if entity == "repo_teams" {
                "teams"
            } else {
                "hooks"
            };
            let runs = repos.iter().map(|repo| {
                let pages = &pages;
                let api = &api;
                let url = list(format!("repos/{repo}/{suffix}"));
                async move {
                    let mut stats = EntityStats::default();
                    let slug = repo.replace('/', "-");
                    let result = walk(
                        api,
                        pages,
                        &slug,
                        url,
                        link,
                        json!({ "repo": repo }),
                        &mut stats,
                        &mut |_| true,
                    )
                    .await;
                    (repo, stats, result)
                }
            });
            let mut stats = EntityStats {
                vendor: "github",
                entity: entity.into(),
                ..Default::default()
            };
            for (repo, s, result) in join_all(runs).await {
                stats.pages += s.pages;
                stats.records += s.records;
                match result {
                    // GitHub answers 404, not 403, when the token may not see a repo's teams or hooks.
                    Err(ExtractError::Http(HttpError::Status { status: 404, .. })) => {
                        stats
                            .notes
                            .push(format!("no access to {suffix} of {repo} (HTTP 404)"));
                    }
                    Err(e) => return Err(e),
                    Ok(()) => {}
                }
            }
            all.push(stats);
        }
    }
    Ok(all)
}
