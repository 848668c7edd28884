//! `weir infer`: on every shipped raw folder the proposal validates and loads the folder with
//! nothing rejected, one row per record key; a messy folder (mixed kinds, missing fields, empty
//! and nested lists, a field null everywhere, names SQL cannot take) loads too; personal fields
//! are pseudonymised; files are never replaced without `--force`; `--key`, `--records` and a
//! folder without an id.

use std::path::Path;

use crate::harness::{Project, REPO, engines};

/// A project holding only `raw_data/<folder>` (and the sample's `.env`, for its hash secret).
fn with_folder(folder: &str) -> Project {
    let p = Project::empty();
    p.sample_env();
    copy(
        &Path::new(REPO).join("raw_data").join(folder),
        &p.path(&format!("raw_data/{folder}")),
    );
    p
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else if e.file_name() != ".weir.lock" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The number after `word ` in `text` (`from 70 records`).
fn number_before(text: &str, word: &str) -> usize {
    let at = text
        .find(&format!(" {word}"))
        .unwrap_or_else(|| panic!("no `{word}` in {text}"));
    text[..at]
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before `{word}` in {text}"))
}

/// The `table:` of a mapper's text.
fn table_of(mapper: &str) -> String {
    mapper
        .lines()
        .find_map(|l| l.strip_prefix("table: "))
        .unwrap()
        .trim()
        .to_string()
}

fn count(p: &Project, table: &str) -> usize {
    p.sql("sqlite", &format!("SELECT count(*) FROM {table}"))[0]
        .parse()
        .unwrap()
}

/// The keys `weir infer` cannot guess: the hand-made sources have no id-like field, and a Sentry
/// event of a merged issue moves to the surviving issue (its mapper knows; the records only show
/// one `id` under two issues, as a team shows under two repositories).
fn key_args(folder: &str) -> Vec<&'static str> {
    match folder {
        "incidents" => vec!["--key", "incident_name,incident_date"],
        "developer_survey" => vec!["--key", "Timestamp,Email Address"],
        "sentry_issue_events" => vec!["--key", "eventID"],
        _ => vec![],
    }
}

#[test]
fn every_shipped_folder_loads_as_inferred() {
    let shipped = Project::shipped();
    shipped.ok(&["run-etl"]);
    let mut folders: Vec<String> = std::fs::read_dir(Path::new(REPO).join("raw_data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.'))
        .collect();
    folders.sort();
    assert!(folders.len() >= 17, "{folders:?}");
    for folder in &folders {
        let p = with_folder(folder);
        let raw = format!("raw_data/{folder}");
        let mut args = vec!["infer", raw.as_str()];
        args.extend(key_args(folder));
        let inferred = p.ok(&args);
        let records = number_before(&inferred.stderr, "records in");
        p.ok(&["validate"]);
        // `fail` is the default: one record the mapper cannot map fails the load.
        let loaded = p.ok(&["run-etl"]);
        assert_eq!(
            number_before(&loaded.stderr, "records"),
            records,
            "{folder}: {}",
            loaded.stderr
        );
        assert!(
            p.sql("sqlite", "SELECT count(*) FROM weir_rejected") == ["0"],
            "{folder}"
        );
        let table = table_of(&p.read(&format!("mappers/{folder}.yaml")));
        let own = table_of(&shipped.read(&format!("mappers/{folder}.yaml")));
        // One row per record key: as many as the shipped mapper keeps.
        assert_eq!(count(&p, &table), count(&shipped, &own), "{folder}");
        same_on_every_engine(&p, folder);
    }
}

/// The proposal loads into the same rows on every engine (types, child tables without a key).
fn same_on_every_engine(p: &Project, what: &str) {
    let sqlite = p.dump_engine("sqlite", &[]);
    for engine in engines().into_iter().filter(|e| *e != "sqlite") {
        p.ok(&["--engine", engine, "run-etl"]);
        crate::harness::assert_same(
            &p.dump_engine(engine, &[]),
            &sqlite,
            &format!("{what} on {engine}"),
        );
    }
}

#[test]
fn a_messy_folder_loads_with_nothing_rejected() {
    let p = Project::empty();
    p.sample_env();
    copy(
        &Path::new(REPO).join("tests/fixtures/infer_messy"),
        p.dir.path(),
    );
    let out = p.ok(&["infer", "raw_data/messy"]);
    insta::assert_snapshot!(out.transcript());
    let sql = p.read("schemas/10_messy.sql");
    let yaml = p.read("mappers/messy.yaml");
    insta::assert_snapshot!("messy_schema", sql);
    insta::assert_snapshot!("messy_mapper", yaml);
    assert!(!yaml.contains("Ada@") && !yaml.contains("grace@"), "{yaml}");
    assert!(
        !yaml.contains("10.1.2.3") && !yaml.contains("7946"),
        "{yaml}"
    );
    p.ok(&["validate"]);
    p.ok(&["run-etl"]);
    assert_eq!(count(&p, "messy"), 5);
    assert_eq!(
        p.sql("sqlite", "SELECT score FROM messy ORDER BY id"),
        ["4", "2.5", "n/a", "5", ""]
    );
    assert_eq!(
        p.sql("sqlite", "SELECT amount FROM messy ORDER BY id")[1],
        "12.75"
    );
    // The email is stored as its pseudonym, never as it is.
    let emails = p.sql("sqlite", "SELECT email_address FROM messy WHERE id = 3");
    assert_eq!(emails[0].len(), 64, "{emails:?}");
    let all = p.dump("warehouse.sqlite");
    assert!(!all.contains("grace@example.org") && !all.contains("10.1.2.3"));
    // Lists of objects in lists of objects: rows linked to the record, and to their element.
    assert_eq!(count(&p, "messy_items"), 3);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT record_id, id, serial FROM messy_items_parts ORDER BY record_id, id"
        ),
        ["3|p9|"]
    );
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT record_id, value FROM messy_labels ORDER BY 1, 2"
        ),
        ["1|red", "3|green"]
    );
    same_on_every_engine(&p, "the messy folder");
}

#[test]
fn refuses_to_replace_files_without_force() {
    let p = with_folder("github_teams");
    p.ok(&["infer", "raw_data/github_teams"]);
    let out = p.weir(&["infer", "raw_data/github_teams"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
    p.write("mappers/github_teams.yaml", "# mine\n");
    assert_eq!(p.weir(&["infer", "raw_data/github_teams"]).code, 1);
    assert_eq!(p.read("mappers/github_teams.yaml"), "# mine\n");
    p.ok(&["infer", "raw_data/github_teams", "--force"]);
    assert!(
        p.read("mappers/github_teams.yaml")
            .contains("table: github_teams")
    );
    // The source's own schema file is replaced, not joined by another.
    assert_eq!(p.files("schemas"), ["10_github_teams.sql"]);
    p.ok(&["validate"]);
}

#[test]
fn numbers_the_schema_after_the_existing_ones_and_avoids_their_tables() {
    let p = Project::shipped();
    std::fs::remove_file(p.path("mappers/github_teams.yaml")).unwrap();
    let out = p.ok(&["infer", "raw_data/github_teams"]);
    assert!(
        out.stderr.contains("schemas/70_github_teams.sql"),
        "{}",
        out.stderr
    );
    // schemas/40_github.sql declares `github_teams` already.
    assert!(
        p.read("mappers/github_teams.yaml")
            .contains("table: github_teams_2")
    );
    p.ok(&["validate"]);
}

#[test]
fn key_and_records_as_given() {
    let p = with_folder("pagerduty_services");
    p.ok(&[
        "infer",
        "raw_data/pagerduty_services",
        "--records",
        "services",
        "--key",
        "name",
    ]);
    let yaml = p.read("mappers/pagerduty_services.yaml");
    assert!(yaml.contains("records: services\n"), "{yaml}");
    assert!(yaml.contains("key: [name]\n"), "{yaml}");
    p.ok(&["run-etl"]);
    assert_eq!(count(&p, "pagerduty_services"), 7);

    let wrong = p.weir(&[
        "infer",
        "raw_data/pagerduty_services",
        "--force",
        "--key",
        "nmae",
    ]);
    assert_eq!(wrong.code, 1);
    insta::assert_snapshot!("unknown_key", wrong.transcript());
    let bad_records = p.weir(&[
        "infer",
        "raw_data/pagerduty_services",
        "--force",
        "--records",
        "servics",
    ]);
    assert_eq!(bad_records.code, 1);
    assert!(
        bad_records.stderr.contains("the body has no `servics`"),
        "{}",
        bad_records.stderr
    );
}

#[test]
fn a_key_missing_from_some_records_is_refused() {
    let p = Project::empty();
    p.write(
        "raw_data/notes/a.jsonl",
        "{\"id\": 1, \"ref\": \"x\"}\n{\"id\": 2}\n",
    );
    let out = p.weir(&["infer", "raw_data/notes", "--key", "ref"]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("in 1 of 2 records"), "{}", out.stderr);
}

#[test]
fn no_key_candidate_asks_for_key() {
    let p = Project::empty();
    p.write(
        "raw_data/readings/a.csv",
        "sensor,value\nnorth,1.5\nsouth,2\n",
    );
    let out = p.weir(&["infer", "raw_data/readings"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.transcript());
    assert!(!p.path("mappers").exists() && !p.path("schemas").exists());
    p.ok(&["infer", "raw_data/readings", "--key", "sensor"]);
    let sql = p.read("schemas/10_readings.sql");
    assert!(sql.contains("value DOUBLE"), "{sql}");
    p.ok(&["run-etl"]);
    assert_eq!(
        p.sql("sqlite", "SELECT sensor, value FROM readings ORDER BY 1"),
        ["north|1.5", "south|2"]
    );
}

#[test]
fn a_repeated_id_is_no_key() {
    let p = Project::empty();
    p.write(
        "raw_data/dupes/a.json",
        r#"[{"id": 1, "v": "a"}, {"id": 1, "v": "b"}]"#,
    );
    let out = p.weir(&["infer", "raw_data/dupes"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("`id` is the same in 1 records that differ"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_folder_must_be_a_raw_folder() {
    let p = Project::empty();
    p.write("elsewhere/a.json", "[]");
    for folder in ["elsewhere", "raw_data/missing", "raw_data"] {
        let out = p.weir(&["infer", folder]);
        assert_eq!(out.code, 1, "{folder}");
        assert!(out.stderr.contains("raw_data/<source>"), "{}", out.stderr);
    }
}
