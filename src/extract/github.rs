//! GitHub REST API: `Link`-header paging; the org's teams and repos, then each repo's teams and
//! hooks, one request chain per repo, run concurrently (the client bounds requests in flight).
//! None of these lists has a `since`, so all are refreshed in full.

use futures_util::future::join_all;
use serde_json::{Value as Json, json};

use super::http::{Api, Header, HttpError, Reset};
use super::pages::{Pages, Paging, walk, walk_all};
use super::{EntityStats, ExtractError, Extraction, Request, Variable, Vendor, texts};

pub const VENDOR: Vendor = Vendor {
    name: "github",
    entities: &["teams", "repos", "repo_teams", "repo_hooks"],
    variables: &[API_KEY, ORG, BASE_URL],
    extract: start,
};

const API_KEY: Variable = Variable {
    name: "GITHUB_API_KEY",
    aliases: &["GITHUB_TOKEN"],
    required: true,
    about: "a token that may read the org",
};
const ORG: Variable = Variable {
    name: "GITHUB_ORG",
    aliases: &[],
    required: true,
    about: "the organization's login",
};
const BASE_URL: Variable = Variable {
    name: "GITHUB_BASE_URL",
    aliases: &[],
    required: false,
    about: "the API, e.g. https://HOST/api/v3 [default: https://api.github.com]",
};

fn start<'r>(req: &'r Request<'r>, stamp: &'r str) -> Extraction<'r> {
    Box::pin(extract(req, stamp))
}

async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let token = req.require(&API_KEY)?;
    let org = req.require(&ORG)?;
    let base = req.base_url(&BASE_URL, "https://api.github.com")?;
    let api = Api::new(
        "github",
        base,
        vec![
            Header::secret("authorization", format!("Bearer {token}"), API_KEY.name),
            Header::plain("accept", "application/vnd.github+json"),
            Header::plain("x-github-api-version", "2022-11-28"),
        ],
        Reset::EpochIn("x-ratelimit-reset"),
        req.options,
    )?;
    let mut all = Vec::new();
    if req.wants("teams") {
        let mut stats = EntityStats {
            vendor: "github",
            entity: "teams".into(),
            ..Default::default()
        };
        let pages = Pages::new(req.root, "github", "teams", stamp);
        let url = list(&api, &format!("orgs/{org}/teams"));
        walk_all(&api, &pages, url, LINK, &mut stats).await?;
        all.push(stats);
    }
    // Repo teams and hooks are per repo: the repos come first, whether asked for or not.
    let chains: Vec<&str> = ["repo_teams", "repo_hooks"]
        .into_iter()
        .filter(|e| req.wants(e))
        .collect();
    if req.wants("repos") || !chains.is_empty() {
        let (stats, repos) = repos(req, &api, &org, stamp).await?;
        all.push(stats);
        for entity in chains {
            all.push(per_repo(req, &api, entity, &repos, stamp).await?);
        }
    }
    Ok(all)
}

/// Every list follows the `Link` header's next page.
const LINK: Paging = Paging::Link { results: false };

/// The URL of a list, a hundred to a page.
fn list(api: &Api, path: &str) -> reqwest::Url {
    let mut url = api.base.join(path).expect("a plain path joins");
    url.query_pairs_mut().append_pair("per_page", "100");
    url
}

/// The org's repos, and their full names.
async fn repos(
    req: &Request<'_>,
    api: &Api,
    org: &str,
    stamp: &str,
) -> Result<(EntityStats, Vec<String>), ExtractError> {
    let mut stats = EntityStats {
        vendor: "github",
        entity: "repos".into(),
        ..Default::default()
    };
    let pages = Pages::new(req.root, "github", "repos", stamp);
    let mut repos: Vec<String> = Vec::new();
    let mut url = list(api, &format!("orgs/{org}/repos"));
    url.query_pairs_mut().append_pair("sort", "full_name");
    let on_records = &mut |records: &[Json]| {
        repos.extend(texts(records, "full_name"));
        true
    };
    walk(
        api,
        &pages,
        "",
        url,
        LINK,
        json!({}),
        &mut stats,
        on_records,
    )
    .await?;
    Ok((stats, repos))
}

/// `entity` (`repo_teams` or `repo_hooks`) of every repo, one request chain per repo.
async fn per_repo(
    req: &Request<'_>,
    api: &Api,
    entity: &str,
    repos: &[String],
    stamp: &str,
) -> Result<EntityStats, ExtractError> {
    let pages = Pages::new(req.root, "github", entity, stamp);
    let suffix = if entity == "repo_teams" {
        "teams"
    } else {
        "hooks"
    };
    let runs = repos.iter().map(|repo| {
        let pages = &pages;
        let url = list(api, &format!("repos/{repo}/{suffix}"));
        async move {
            let mut stats = EntityStats::default();
            let slug = repo.replace('/', "-");
            let context = json!({ "repo": repo });
            let result = walk(
                api,
                pages,
                &slug,
                url,
                LINK,
                context,
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
    Ok(stats)
}
