//! Datadog API v1: monitors (`page`/`page_size`, a bare list) and synthetics tests
//! (`page_number`/`page_size`, under `tests`); both stop on a short page and are refreshed in full.

use super::http::{Api, Reset};
use super::{EntityStats, ExtractError, Pages, Paging, Request, walk_all};

pub const ENTITIES: [&str; 2] = ["monitors", "synthetics"];

pub async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let api_key = req.require("DATADOG_API_KEY", &[])?;
    let app_key = req.require("DATADOG_APPLICATION_KEY", &[])?;
    let site = (req.var)("DATADOG_SITE")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "datadoghq.com".into());
    let base = req.base_url("DATADOG_BASE_URL", &format!("https://api.{site}"))?;
    let api = Api::new(
        "datadog",
        base,
        vec![
            ("dd-api-key", api_key, true),
            ("dd-application-key", app_key, true),
        ],
        Reset::SecondsIn("x-ratelimit-reset"),
        req.options,
    )
    .map_err(|e| ExtractError::BadCredential {
        name: "DATADOG_API_KEY".into(),
        reason: e.to_string(),
    })?;
    let mut all = Vec::new();
    for entity in ENTITIES.iter().filter(|e| req.wants(e)) {
        let pages = Pages::new(req.root, "datadog", entity, stamp);
        let mut stats = EntityStats {
            vendor: "datadog",
            entity: entity.to_string(),
            ..Default::default()
        };
        let (path, paging) = match *entity {
            "monitors" => (
                "api/v1/monitor",
                Paging::Number {
                    page: "page",
                    size: "page_size",
                    per: 100,
                    key: None,
                },
            ),
            _ => (
                "api/v1/synthetics/tests",
                Paging::Number {
                    page: "page_number",
                    size: "page_size",
                    per: 100,
                    key: Some("tests"),
                },
            ),
        };
        let url = api.base.join(path).expect("a plain path joins");
        walk_all(&api, &pages, url, paging, &mut stats).await?;
        all.push(stats);
    }
    Ok(all)
}
