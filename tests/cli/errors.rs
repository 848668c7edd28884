//! Every bad input gets file, line and column (or the record), the field, and the fix.

use crate::harness::Project;

const INCIDENT: &str = "# one incident, as an analyst writes it
- incident_name: Checkout down
  postmortem_link: https://wiki.example/pm/1
  incident_date: 2026-05-01
  affected_entities:
    - entity_name: Storefront
      products: [checkout]
  root_causes: [deployment]
  stats:
    time_of_first_trigger: 2026-05-01 10:00
    time_of_customer_detect: null
    time_of_internal_detect: 2026-05-01 10:05
    time_of_recovery: 2026-05-01 11:00
    time_of_reconcile: null
    time_of_rca: 2026-05-03 09:00
    number_of_impacted_customers: NaN
    number_of_failed_requests: 1200
  severity_level: SEV2
";

fn incidents(text: &str) -> Project {
    let p = Project::fixture("empty");
    p.write("raw_data/incidents/2026.yaml", text);
    p
}

#[test]
fn a_good_incident_loads() {
    let p = incidents(INCIDENT);
    p.ok(&["run-etl"]);
    let p2 = incidents(INCIDENT);
    p2.ok(&["validate"]);
}

#[test]
fn bad_incident_yaml_lists_every_problem() {
    let bad = INCIDENT
        .replace("root_causes: [deployment]", "root_causes: [deploymnet, capacity, gremlins]")
        .replace("time_of_recovery: 2026-05-01 11:00", "time_of_recovey: 2026-05-01 11:00")
        .replace("time_of_rca: 2026-05-03 09:00", "time_of_rca: 3rd of May")
        .replace("number_of_failed_requests: 1200", "number_of_failed_requests: 12.5")
        .replace("  severity_level: SEV2\n", "  severity_level: SEV2\n- incident_name: Checkout down\n  incident_date: 2026-05-01\n- postmortem_link: x\n");
    let p = incidents(&bad);
    let validate = p.weir(&["validate"]);
    insta::assert_snapshot!(validate.transcript());
    let load = p.weir(&["run-etl"]);
    assert_eq!(load.code, 1);
    assert!(load.stderr.contains("nothing was loaded"));
    assert!(
        !p.dump("warehouse.sqlite").contains("Checkout"),
        "a bad file must load nothing"
    );
}

#[test]
fn yaml_syntax_and_aliases() {
    let p = incidents("- incident_name: [unclosed\n  incident_date: 2026-05-01\n");
    insta::assert_snapshot!(p.weir(&["validate"]).stderr);
    let p = incidents("- &a {incident_name: x, incident_date: 2026-05-01}\n- *a\n");
    insta::assert_snapshot!(p.weir(&["validate"]).stderr);
}

#[test]
fn bad_json_is_located() {
    let p = Project::fixture("empty");
    p.write(
        "raw_data/pagerduty_teams/page-1.json",
        "{\"teams\": [\n  {\"id\": \"P1\",}\n]}\n",
    );
    let out = p.weir(&["run-etl", "pagerduty_teams"]);
    insta::assert_snapshot!(out.transcript());
}

#[test]
fn invalid_utf8_and_empty_files() {
    let p = Project::fixture("empty");
    std::fs::create_dir_all(p.path("raw_data/pagerduty_teams")).unwrap();
    std::fs::write(p.path("raw_data/pagerduty_teams/a.json"), b"").unwrap();
    std::fs::write(
        p.path("raw_data/pagerduty_teams/b.json"),
        b"{\"teams\": [\n\"\xff\"]}",
    )
    .unwrap();
    let out = p.weir(&["run-etl", "pagerduty_teams"]);
    insta::assert_snapshot!(out.stderr, @r"
    error: raw_data/pagerduty_teams/b.json:2:2: the file is not valid UTF-8
      hint: save the file as UTF-8
    note: nothing was loaded; the database is unchanged
    note: `--on-error quarantine` would set the bad records aside and load the rest
    ");
}

#[test]
fn bad_mapper_names_file_line_and_near_names() {
    let p = Project::fixture("empty");
    p.write(
        "mappers/pagerduty_teams.yaml",
        "records: teams
table: pagerduty_team
key: [id]
columns:
  id: id
",
    );
    p.write("raw_data/pagerduty_teams/a.json", "{\"teams\": []}");
    insta::assert_snapshot!(p.weir(&["run-etl", "pagerduty_teams"]).stderr);

    p.write(
        "mappers/pagerduty_teams.yaml",
        "records: teams
table: pagerduty_teams
key: [id]
verison: fetched_at
columns:
  id: id
  nmae: name
  summary: {from: summary, type: txt}
  fetched_at: {from: $fetchedat, type: timestamp}
",
    );
    insta::assert_snapshot!(p.weir(&["validate"]).stderr);
}

#[test]
fn unknown_command_line_is_a_usage_error() {
    let p = Project::empty();
    let out = p.weir(&["run-etll"]);
    assert_eq!(out.code, 1, "a bad command line is the user's to fix");
    assert!(out.stderr.contains("run-etl"), "{}", out.stderr);
    let out = p.weir(&["--root", "/nonexistent/weir", "run"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: /nonexistent/weir: the project folder does not exist
      hint: pass `--root DIR` with a folder holding raw_data/, schemas/, mappers/ and queries/
    ");
}

#[test]
fn mappers_must_fit_the_tables() {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, must TEXT NOT NULL);
         CREATE TABLE c (t_id TEXT, k TEXT, PRIMARY KEY (k));",
    );
    p.write(
        "mappers/t.yaml",
        "table: t
key: [id]
columns:
  id: id
  n: {from: n, type: text}
children:
  - table: c
    each: xs
    link: {t_id: id}
    columns:
      k: .
  - table: c
    each: ys
    link: {t_id: id}
    columns:
      k: .
",
    );
    p.write("raw_data/t/a.json", "[]");
    insta::assert_snapshot!(p.weir(&["validate"]).stderr);
}

#[test]
fn a_link_names_the_whole_parent_key() {
    // Parents (a, 5) and (b, 5) would share children linked by `id` alone.
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (src TEXT, id TEXT, PRIMARY KEY (src, id));
         CREATE TABLE c (t_id TEXT, k TEXT, PRIMARY KEY (t_id, k));",
    );
    p.write(
        "mappers/t.yaml",
        "table: t
key: [src, id]
columns:
  src: src
  id: id
children:
  - table: c
    each: xs
    link: {t_id: id}
    columns:
      k: .
",
    );
    p.write("raw_data/t/a.json", "[]");
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: mappers/t.yaml:9:12: `link` does not name `src`, a column of the parent's key
      hint: link a column of `c` to it, e.g. `src_of_parent: src` under `link`, and put that column in the table's PRIMARY KEY
    ");
    // A misspelt link entry is one problem, not two.
    let mapper = p
        .read("mappers/t.yaml")
        .replace("{t_id: id}", "{t_id: idd}");
    p.write("mappers/t.yaml", &mapper);
    insta::assert_snapshot!(p.weir(&["validate"]).stderr, @r"
    error: mappers/t.yaml:9:18: `idd` is not a mapped column of the parent table
      hint: did you mean `id`?
    ");
}

#[test]
fn schemas_make_only_tables() {
    let p = Project::fixture("empty");
    p.write(
        "schemas/99_view.sql",
        "CREATE VIEW severe AS SELECT * FROM incidents WHERE severity_level = 'SEV1';",
    );
    let out = p.weir(&["initialize"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @"error: schemas/99_view.sql: the database refused the schema: schemas/ may only create tables for now; the view `severe` would not be applied");
}
