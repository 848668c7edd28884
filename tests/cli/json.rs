//! `--json`: one JSON object on stdout that says what run-etl, run-queries, run, check and validate did
//! (sources with their counts, files written with their rows, problems with their place), for a
//! good run and a failing one; the exit code is unchanged and human messages stay on stderr.

use serde_json::Value;

use crate::harness::{Output, Project};

/// stdout as JSON: exactly one object on one line.
fn summary(out: &Output) -> Value {
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.transcript());
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.transcript()))
}

/// The keys every summary has, whatever the command and outcome.
fn has_every_key(s: &Value) {
    let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "command",
            "version",
            "status",
            "exit_code",
            "sources",
            "files",
            "checked",
            "checks",
            "problems"
        ]
    );
}

/// The shipped project with a mapper column the table does not have.
fn bad_mapper() -> Project {
    let p = Project::shipped();
    let mapper = p
        .read("mappers/pagerduty_teams.yaml")
        .replacen("  name: name", "  nam: name", 1);
    p.write("mappers/pagerduty_teams.yaml", &mapper);
    p
}

#[test]
fn a_good_run_etl_lists_every_source_with_balanced_books() {
    let p = Project::shipped();
    let out = p.ok(&["run-etl", "--json"]);
    let s = summary(&out);
    has_every_key(&s);
    assert_eq!(s["command"], "run-etl");
    assert_eq!(s["status"], "ok");
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["problems"], serde_json::json!([]));
    assert_eq!(s["checked"], Value::Null);
    let sources = s["sources"].as_array().unwrap();
    let names: Vec<&str> = sources
        .iter()
        .map(|x| x["source"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"incidents") && names.contains(&"pagerduty_teams"));
    for x in sources {
        let n = |k: &str| x[k].as_u64().unwrap();
        assert_eq!(
            n("records_read"),
            n("loaded") + n("rejected") + n("superseded"),
            "{x}"
        );
        // Each source's line is still on stderr for a person.
        assert!(
            out.stderr
                .contains(&format!("loaded {} ", x["source"].as_str().unwrap()))
                || n("files") == 0
        );
    }
    let incidents = sources.iter().find(|x| x["source"] == "incidents").unwrap();
    assert_eq!(incidents["files"], 4);
    assert_eq!(incidents["records_read"], 41);
    // A re-run reads nothing: every file is unchanged.
    let again = summary(&p.ok(&["run-etl", "--json"]));
    let incidents = again["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "incidents")
        .unwrap()
        .clone();
    assert_eq!(
        (
            incidents["files"].clone(),
            incidents["files_unchanged"].clone()
        ),
        (0.into(), 4.into())
    );
}

#[test]
fn run_queries_lists_the_files_it_wrote_with_their_rows() {
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    let out = p.ok(&["-q", "run-queries", "--json"]);
    assert_eq!(
        out.stderr, "",
        "-q keeps stderr quiet, not stdout's summary"
    );
    let s = summary(&out);
    has_every_key(&s);
    assert_eq!(s["command"], "run-queries");
    assert_eq!(s["sources"], serde_json::json!([]));
    let files = s["files"].as_array().unwrap();
    assert_eq!(files.len(), p.reports().len());
    for f in files {
        let path = f["path"].as_str().unwrap();
        let csv = p.read(path);
        // A header row, then one line per row (the shipped reports have no line breaks in cells).
        assert_eq!(
            f["rows"].as_u64().unwrap() as usize,
            csv.lines().count() - 1,
            "{path}"
        );
    }
}

#[test]
fn run_lists_sources_and_files() {
    let p = Project::shipped();
    let s = summary(&p.ok(&["run", "--json"]));
    assert_eq!(s["command"], "run");
    assert!(!s["sources"].as_array().unwrap().is_empty());
    // The reports, output/checks.csv and the failing rows of the sample's two warnings.
    assert_eq!(p.files("output/check_failures").len(), 2);
    assert_eq!(s["files"].as_array().unwrap().len(), p.reports().len() + 2);
    assert_eq!(s["checks"].as_array().unwrap().len(), 29);
}

#[test]
fn a_failing_run_etl_prints_its_problems_and_keeps_its_exit_code() {
    let p = bad_mapper();
    let out = p.weir(&["run-etl", "--json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .starts_with("error: mappers/pagerduty_teams.yaml:8:3: column `nam` is not in"),
        "the human message stays on stderr: {}",
        out.stderr
    );
    let mut s = summary(&out);
    has_every_key(&s);
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));
    s["version"] = "[VERSION]".into();
    insta::assert_snapshot!(serde_json::to_string_pretty(&s).unwrap(), @r#"
    {
      "command": "run-etl",
      "version": "[VERSION]",
      "status": "failed",
      "exit_code": 1,
      "sources": [],
      "files": [],
      "checked": null,
      "checks": null,
      "problems": [
        {
          "severity": "error",
          "file": "mappers/pagerduty_teams.yaml",
          "line": 8,
          "column": 3,
          "record": null,
          "field": null,
          "message": "column `nam` is not in table `pagerduty_teams`",
          "hint": "did you mean `name`?"
        }
      ]
    }
    "#);
}

#[test]
fn a_load_that_wrote_nothing_lists_its_sources_and_why() {
    let p = Project::shipped();
    let yaml = p.read("raw_data/incidents/2026-10.yaml").replacen(
        "root_causes: [capacity]",
        "root_causes: [capacty]",
        1,
    );
    p.write("raw_data/incidents/2026-10.yaml", &yaml);
    let out = p.weir(&["run-etl", "--json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let s = summary(&out);
    assert_eq!(s["status"], "failed");
    let problems = s["problems"].as_array().unwrap();
    let bad = &problems[0];
    assert_eq!(bad["severity"], "error");
    assert_eq!(bad["file"], "raw_data/incidents/2026-10.yaml");
    assert_eq!(
        (bad["line"].clone(), bad["column"].clone()),
        (12.into(), 17.into())
    );
    assert_eq!(bad["field"], "root_causes[0]");
    assert!(
        bad["message"].as_str().unwrap().contains("`capacty`"),
        "{bad}"
    );
    assert!(bad["hint"].is_string(), "{bad}");
    // The notes that close the list say what followed.
    assert!(problems.iter().any(|x| x["severity"] == "note"
        && x["message"] == "nothing was loaded; the database is unchanged"));
    // Every source was read; none wrote a row.
    let sources = s["sources"].as_array().unwrap();
    assert!(
        sources
            .iter()
            .any(|x| x["source"] == "incidents" && x["records_read"] == 41)
    );
    assert!(sources.iter().all(|x| x["loaded"] == 0));
}

#[test]
fn a_quarantine_run_is_partial_and_names_the_records_set_aside() {
    let p = Project::shipped();
    let yaml = p.read("raw_data/incidents/2026-10.yaml").replacen(
        "root_causes: [capacity]",
        "root_causes: [capacty]",
        1,
    );
    p.write("raw_data/incidents/2026-10.yaml", &yaml);
    let out = p.weir(&["run-etl", "--on-error", "quarantine", "--json"]);
    assert_eq!(out.code, 3, "{}", out.transcript());
    let s = summary(&out);
    assert_eq!(
        (s["status"].clone(), s["exit_code"].clone()),
        ("partial".into(), 3.into())
    );
    let rejected: Vec<&Value> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["severity"] == "rejected")
        .collect();
    assert_eq!(rejected.len(), 1, "{}", s["problems"]);
    assert_eq!(rejected[0]["field"], "root_causes[0]");
    let incidents = s["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["source"] == "incidents")
        .unwrap()
        .clone();
    assert_eq!(
        (incidents["rejected"].clone(), incidents["loaded"].clone()),
        (1.into(), 40.into())
    );
}

#[test]
fn validate_says_what_it_checked_and_every_problem() {
    let p = Project::shipped();
    let good = summary(&p.ok(&["validate", "--json"]));
    has_every_key(&good);
    assert_eq!(good["status"], "ok");
    let checked = &good["checked"];
    assert!(checked["tables"].as_u64().unwrap() > 10, "{checked}");
    assert!(checked["records"].as_u64().unwrap() > 100, "{checked}");
    assert!(!p.path("warehouse.sqlite").exists());

    let p = bad_mapper();
    p.write("queries/broken.sql", "SELECT nope FROM incidents");
    let out = p.weir(&["validate", "--json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let s = summary(&out);
    assert_eq!(s["status"], "failed");
    let files: Vec<&str> = s["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["mappers/pagerduty_teams.yaml", "queries/broken.sql"]
    );
    assert!(s["checked"]["queries"].as_u64().unwrap() > 1);
}

#[test]
fn an_error_before_the_command_starts_is_a_summary_too() {
    // A `.env` that does not parse fails while the settings are read.
    let p = Project::shipped();
    p.write(".env", "NOT A LINE\n");
    let out = p.weir(&["validate", "--json"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let s = summary(&out);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["problems"][0]["file"], ".env");
}

#[test]
fn without_json_stdout_stays_empty() {
    let p = Project::shipped();
    let out = p.ok(&["run"]);
    assert_eq!(out.stdout, "");
}
