//! A vendor body saved as the API returned it loads as its weir envelope does, and every response
//! recorded from the vendors' live APIs (../shared/real-responses, not copied here) loads both ways.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value as Json, json};

use crate::harness::{Output, Project, REPO, assert_same, engines, without_history};

/// What only an envelope can tell: a bare body's rows have NULL here.
const ENVELOPE_ONLY: [&str; 1] = ["fetched_at"];

/// The mapper's `context_from_path` pattern, if it declares one.
fn context_pattern(p: &Project, source: &str) -> Option<String> {
    let text = std::fs::read_to_string(p.path(&format!("mappers/{source}.yaml"))).ok()?;
    let line = text.lines().find(|l| l.starts_with("context_from_path:"))?;
    let value = line.split_once(':')?.1.trim();
    Some(value.trim_matches('"').to_string())
}

/// The mapper's `records:` key, if it declares one.
fn records_key(p: &Project, source: &str) -> Option<String> {
    let text = std::fs::read_to_string(p.path(&format!("mappers/{source}.yaml"))).ok()?;
    let line = text.lines().find(|l| l.starts_with("records:"))?;
    Some(line.split_once(':')?.1.trim().to_string())
}

/// `pattern` with each `{name}` replaced by `context[name]` (or by `fill` when it has none).
fn fill_pattern(pattern: &str, context: &Json, fill: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').expect("a checked pattern") + open;
        out.push_str(&rest[..open]);
        let name = &rest[open + 1..close];
        out.push_str(context.get(name).and_then(Json::as_str).unwrap_or(fill));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Rewrites every weir page envelope of `raw_data/` as the bare body the vendor sent, named in
/// fetch order (a bare body has no version, so the copy loaded last wins): `0001.json`, or
/// `0001/<what the mapper's context_from_path makes of the page's context>`, with the pattern
/// given a `{fetch}/` folder in front.
fn unwrap_to_bare(p: &Project) -> usize {
    let mut unwrapped = 0;
    for source in std::fs::read_dir(p.path("raw_data")).unwrap() {
        let dir = source.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let pattern = context_pattern(p, &name);
        if let Some(pattern) = &pattern {
            let mapper = format!("mappers/{name}.yaml");
            let text = p.read(&mapper).replace(
                &format!("context_from_path: \"{pattern}\""),
                &format!("context_from_path: \"{{fetch}}/{pattern}\""),
            );
            p.write(&mapper, &text);
        }
        let mut pages: Vec<(String, PathBuf, Json)> = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let page: Json =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            if page.get("weir_page").is_some() {
                let at = page["fetched_at"].as_str().unwrap().to_string();
                pages.push((at, path, page));
            }
        }
        pages.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for (i, (_, path, page)) in pages.into_iter().enumerate() {
            std::fs::remove_file(&path).unwrap();
            unwrapped += 1;
            let file = match &pattern {
                Some(pattern) => format!(
                    "{:04}/{}",
                    i + 1,
                    fill_pattern(pattern, &page["context"], "-")
                ),
                None => format!("{:04}.json", i + 1),
            };
            let path = dir.join(&file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, serde_json::to_string_pretty(&page["body"]).unwrap()).unwrap();
        }
    }
    unwrapped
}

/// The records a load says it read from `source`.
fn records_read(out: &Output, source: &str) -> usize {
    let said = format!("{}{}", out.stdout, out.stderr);
    let line = said
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(source))
        .unwrap_or_else(|| panic!("no line for {source}:\n{said}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == "records")
        .expect("a records count");
    words[at - 1].parse().unwrap()
}

fn load(p: &Project, engine: &str) -> Output {
    let out = p.weir(&["--engine", engine, "run-etl"]);
    assert_eq!(out.code, 0, "{engine}:\n{}", out.transcript());
    out
}

#[test]
fn shipped_samples_saved_as_bare_bodies_give_the_same_rows() {
    for engine in engines() {
        let wrapped = Project::shipped();
        load(&wrapped, engine);
        let bare = Project::shipped();
        let unwrapped = unwrap_to_bare(&bare);
        assert!(unwrapped > 70, "only {unwrapped} envelopes were unwrapped");
        let laid = bare.files("raw_data/github_repo_teams");
        assert!(
            laid.iter().any(|f| f.ends_with("/acme/checkout-api.json")),
            "context from the path: {laid:?}"
        );
        load(&bare, engine);
        // A bare body has no fetch time, so its records have no version for a history table.
        assert_same(
            &without_history(&bare.dump_engine(engine, &ENVELOPE_ONLY)),
            &without_history(&wrapped.dump_engine(engine, &ENVELOPE_ONLY)),
            &format!("{engine}: bare bodies against their envelopes"),
        );
        let versions = bare.sql(
            engine,
            "SELECT count(*) FROM github_repos WHERE fetched_at IS NOT NULL",
        );
        assert_eq!(versions, ["0"], "{engine}: a bare body has no fetch time");
    }
}

#[test]
fn a_bare_body_without_the_context_its_rows_need_is_one_clear_problem() {
    let p = Project::shipped();
    p.write(
        "raw_data/github_repo_teams/page-0099.jsonl",
        "{\"id\": 1, \"slug\": \"a\"}\n{\"id\": 2}\n",
    );
    p.write(
        "mappers/github_repo_hooks.yaml",
        &p.read("mappers/github_repo_hooks.yaml")
            .replace("context_from_path: \"{repo}.json\"\n", ""),
    );
    p.write("raw_data/github_repo_hooks/acme/api.json", "[{\"id\": 5}]");
    let out = p.weir(&["run-etl", "github_repo_teams", "github_repo_hooks"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r#"
    error: raw_data/github_repo_teams/page-0099.jsonl:1: this file has no weir page envelope, so `$context.repo` has no value, and its path `page-0099.jsonl` does not match `context_from_path: "{repo}.json"` of mappers/github_repo_teams.yaml
      hint: name the file as that pattern says, or save the body in a weir page envelope with `"context": {"repo": …}`
    error: raw_data/github_repo_hooks/acme/api.json: this file has no weir page envelope, so `$context.repo` has no value, and mappers/github_repo_hooks.yaml declares no `context_from_path`
      hint: add `context_from_path: "{repo}.json"` to mappers/github_repo_hooks.yaml and name the file so, or save the body in a weir page envelope with `"context": {"repo": …}`
    note: nothing was loaded; the database is unchanged
    note: `--on-error quarantine` would set the bad records aside and load the rest
    2 problems
    "#);
}

#[test]
fn a_jsonl_line_is_one_record_and_an_envelope_line_a_page() {
    let p = Project::shipped();
    // What `jq -c '.incidents[]'` gives, beside a line that is a whole weir page.
    let page: Json =
        serde_json::from_str(&p.read("raw_data/pagerduty_incidents/page-0001.json")).unwrap();
    let incidents = page["body"]["incidents"].as_array().unwrap();
    let mut lines: Vec<String> = incidents[..2].iter().map(|r| r.to_string()).collect();
    // Two later fetches within one second, the later one first: milliseconds decide.
    for (at, title) in [
        ("2030-01-01T00:00:00.750Z", "renamed in a later fetch"),
        ("2030-01-01T00:00:00.250Z", "an earlier fetch, loaded last"),
    ] {
        let mut copy = incidents[0].clone();
        copy["title"] = json!(title);
        let page = json!({"weir_page": 9, "fetched_at": at, "body": {"incidents": [copy]}});
        lines.push(page.to_string());
    }
    for engine in engines() {
        let before = records_read(&load(&Project::shipped(), engine), "pagerduty_incidents");
        let p = Project::shipped();
        p.write(
            "raw_data/pagerduty_incidents/extra.jsonl",
            &(lines.join("\n") + "\n"),
        );
        let out = load(&p, engine);
        assert_eq!(
            records_read(&out, "pagerduty_incidents"),
            before + 4,
            "{engine}"
        );
        let id = incidents[0]["id"].as_str().unwrap();
        assert_eq!(
            p.sql(
                engine,
                &format!("SELECT title, fetched_at FROM pagerduty_incidents WHERE id = '{id}'")
            ),
            ["renamed in a later fetch|2030-01-01T00:00:00.750Z"],
            "{engine}"
        );
    }
    // The shipped sample holds one such file.
    assert!(
        Path::new(REPO)
            .join("raw_data/pagerduty_log_entries/page-0003.jsonl")
            .exists()
    );
}

/// The recorded responses, beside the repository as CI and every session lay them out.
fn real_responses() -> Vec<(String, PathBuf)> {
    let dir = std::env::var_os("WEIR_REAL_RESPONSES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO).join("../shared/real-responses"));
    assert!(
        dir.is_dir(),
        "{}: the recorded vendor responses are missing (set WEIR_REAL_RESPONSES)",
        dir.display()
    );
    let mut found = Vec::new();
    for vendor in ["pagerduty", "sentry", "github", "datadog"] {
        for entry in std::fs::read_dir(dir.join(vendor)).unwrap() {
            let path = entry.unwrap().path();
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            let endpoint = stem.split("__").next().unwrap();
            found.push((format!("{vendor}_{endpoint}"), path));
        }
    }
    found.sort();
    found
}

/// Places every recorded body in `p`'s raw_data, bare or in an envelope; returns the records
/// each source should read.
pub(crate) fn place_real(p: &Project, wrap: bool) -> BTreeMap<String, usize> {
    std::fs::remove_dir_all(p.path("raw_data")).unwrap();
    let mut expected = BTreeMap::new();
    for (source, path) in real_responses() {
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let body: Json = serde_json::from_str(&text).unwrap();
        let list = match records_key(p, &source) {
            Some(key) => body.get(&key),
            None => Some(&body),
        };
        let records = list.and_then(Json::as_array).map_or(0, Vec::len);
        *expected.entry(source.clone()).or_default() += records;
        let pattern = context_pattern(p, &source);
        let file = match &pattern {
            Some(pattern) => fill_pattern(pattern, &json!({}), &stem),
            None => format!("{stem}.json"),
        };
        let saved = if wrap {
            let context: serde_json::Map<String, Json> = ["repo", "issue_id"]
                .iter()
                .filter(|k| {
                    pattern
                        .as_deref()
                        .is_some_and(|p| p.contains(&format!("{{{k}}}")))
                })
                .map(|k| (k.to_string(), json!(stem)))
                .collect();
            json!({"weir_page": 1, "source": source, "fetched_at": "2026-12-01T00:00:00Z",
                   "context": context, "body": body})
            .to_string()
        } else {
            text
        };
        p.write(&format!("raw_data/{source}/{file}"), &saved);
    }
    expected
}

#[test]
fn every_recorded_vendor_response_loads_bare_and_in_an_envelope() {
    for engine in engines() {
        let mut dumps = Vec::new();
        for wrap in [false, true] {
            let p = Project::shipped();
            let expected = place_real(&p, wrap);
            assert!(expected.values().sum::<usize>() > 500, "{expected:?}");
            let out = load(&p, engine);
            for (source, records) in &expected {
                assert_eq!(
                    records_read(&out, source),
                    *records,
                    "{engine}, wrapped {wrap}: {source}"
                );
            }
            let rejected = p.sql(engine, "SELECT count(*) FROM weir_rejected");
            assert_eq!(rejected, ["0"], "{engine}");
            // Bare bodies have no fetch time: no version for the history tables.
            dumps.push(without_history(&p.dump_engine(engine, &ENVELOPE_ONLY)));
        }
        assert_same(
            &dumps[0],
            &dumps[1],
            &format!("{engine}: bare against wrapped"),
        );
    }
}
