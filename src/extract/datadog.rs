//! Datadog API v1: monitors (`page`/`page_size`, a bare list) and synthetics tests
//! (`page_number`/`page_size`, under `tests`); both stop on a short page and are refreshed in full.

use super::http::{Api, Header, Reset};
use super::pages::{Pages, Paging, walk_all};
use super::{EntityStats, ExtractError, Extraction, Request, Variable, Vendor};

pub const VENDOR: Vendor = Vendor {
    name: "datadog",
    entities: &["monitors", "synthetics"],
    variables: &[API_KEY, APPLICATION_KEY, SITE, BASE_URL],
    extract: start,
};

const API_KEY: Variable = Variable {
    name: "DATADOG_API_KEY",
    aliases: &[],
    required: true,
    about: "an API key",
};
const APPLICATION_KEY: Variable = Variable {
    name: "DATADOG_APPLICATION_KEY",
    aliases: &[],
    required: true,
    about: "an application key",
};
const SITE: Variable = Variable {
    name: "DATADOG_SITE",
    aliases: &[],
    required: false,
    about: "the site, e.g. datadoghq.eu [default: datadoghq.com]",
};
const BASE_URL: Variable = Variable {
    name: "DATADOG_BASE_URL",
    aliases: &[],
    required: false,
    about: "the API [default: https://api.<DATADOG_SITE>]",
};

fn start<'r>(req: &'r Request<'r>, stamp: &'r str) -> Extraction<'r> {
    Box::pin(extract(req, stamp))
}

async fn extract(req: &Request<'_>, stamp: &str) -> Result<Vec<EntityStats>, ExtractError> {
    let api_key = req.require(&API_KEY)?;
    let app_key = req.require(&APPLICATION_KEY)?;
    let site = req
        .optional(&SITE)
        .unwrap_or_else(|| "datadoghq.com".into());
    let base = req.base_url(&BASE_URL, &format!("https://api.{site}"))?;
    let api = Api::new(
        "datadog",
        base,
        vec![
            Header::secret("dd-api-key", api_key, API_KEY.name),
            Header::secret("dd-application-key", app_key, APPLICATION_KEY.name),
        ],
        Reset::SecondsIn("x-ratelimit-reset"),
        req.options,
    )?;
    let mut all = Vec::new();
    for entity in VENDOR.entities.iter().filter(|e| req.wants(e)) {
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
