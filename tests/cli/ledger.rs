//! Re-runs: the ledger (`weir_files`) skips files loaded before and unchanged since, reloads a
//! changed one, and gives the same database as a full load; threads do not change a result.

use crate::harness::{Project, assert_same, engines};

fn per_source(p: &Project, engine: &str, load: u32) -> Vec<String> {
    p.sql(
        engine,
        &format!(
            "SELECT source, files, files_unchanged, records_read FROM weir_load_sources \
             WHERE load_id = {load} ORDER BY source"
        ),
    )
}

#[test]
fn unchanged_files_are_skipped_and_changed_ones_reloaded() {
    for engine in engines() {
        let p = Project::shipped();
        p.age_raw_files();
        p.ok(&["--engine", engine, "run-etl"]);
        let first = p.dump_engine(engine, &[]);

        // Nothing changed: nothing is read.
        let out = p.ok(&["--engine", engine, "run-etl"]);
        assert!(
            out.stderr.contains("unchanged pagerduty_services"),
            "{}",
            out.stderr
        );
        for row in per_source(&p, engine, 2) {
            let cells: Vec<&str> = row.split('|').collect();
            assert_eq!((cells[1], cells[3]), ("0", "0"), "{engine}: {row}");
            assert_ne!(cells[2], "0", "{engine}: {row}");
        }
        assert_same(
            &p.dump_engine(engine, &[]),
            &first,
            "a re-run changed the data",
        );

        // One changed page: only it is read, and a newer fetch of it wins.
        let page = "raw_data/pagerduty_services/page-0001.json";
        let text = p
            .read(page)
            .replace("2026-11-20T08:00:03Z", "2026-11-23T00:00:00Z")
            .replace("\"Accounts\"", "\"Accounts and billing\"");
        p.write(page, &text);
        p.ok(&["--engine", engine, "run-etl"]);
        let services = per_source(&p, engine, 3)
            .into_iter()
            .find(|r| r.starts_with("pagerduty_services|"))
            .unwrap();
        assert_eq!(services, "pagerduty_services|1|3|4", "{engine}");
        let names = p.sql(
            engine,
            "SELECT name FROM pagerduty_services WHERE id = 'PSACC05'",
        );
        assert_eq!(names, ["Accounts and billing"], "{engine}");

        // Touching a file without changing it costs a hash, not a load.
        p.age_raw_files();
        let out = p.ok(&["--engine", engine, "run-etl", "pagerduty_services"]);
        assert!(
            out.stderr.contains("unchanged pagerduty_services"),
            "{}",
            out.stderr
        );

        // The incremental result is exactly what a full reload gives, and what a fresh database
        // loaded from the same files holds.
        let incremental = p.dump_engine(engine, &[]);
        p.ok(&["--engine", engine, "run-etl", "--full"]);
        assert_same(&p.dump_engine(engine, &[]), &incremental, "--full differs");
        let fresh = Project::shipped();
        fresh.write(page, &text);
        fresh.ok(&["--engine", engine, "run-etl"]);
        assert_same(
            &fresh.dump_engine(engine, &[]),
            &incremental,
            "a fresh load differs",
        );
    }
}

#[test]
fn a_changed_mapper_or_a_rebuilt_table_reloads_its_source() {
    let p = Project::shipped();
    p.age_raw_files();
    p.ok(&["run-etl"]);
    let mapper = p.read("mappers/pagerduty_teams.yaml");
    p.write(
        "mappers/pagerduty_teams.yaml",
        &format!("{mapper}\n# edited\n"),
    );
    p.ok(&["run-etl"]);
    let read: Vec<String> = per_source(&p, "sqlite", 2)
        .into_iter()
        .filter(|r| r.split('|').nth(1) != Some("0"))
        .collect();
    assert_eq!(read, ["pagerduty_teams|4|0|8"]);

    p.ok(&["initialize", "--recreate"]);
    let out = p.ok(&["run-etl"]);
    assert!(!out.stderr.contains("unchanged"), "{}", out.stderr);
    assert_eq!(
        p.sql("sqlite", "SELECT count(*) FROM pagerduty_teams"),
        ["4"]
    );
}

#[test]
fn a_deleted_file_is_forgotten_and_an_added_one_loaded() {
    let p = Project::shipped();
    p.age_raw_files();
    p.ok(&["run-etl"]);
    std::fs::remove_file(p.path("raw_data/sentry_teams/page-0001.json")).unwrap();
    p.write(
        "raw_data/sentry_teams/page-0009.json",
        &p.read("raw_data/sentry_teams/page-0002.json"),
    );
    p.ok(&["run-etl"]);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT file FROM weir_files WHERE source = 'sentry_teams' ORDER BY file"
        ),
        [
            "raw_data/sentry_teams/page-0002.json",
            "raw_data/sentry_teams/page-0003.json",
            "raw_data/sentry_teams/page-0009.json"
        ]
    );
}

#[test]
fn the_number_of_threads_does_not_change_the_result() {
    for engine in engines() {
        let one = Project::shipped();
        one.ok(&["--engine", engine, "run-etl", "--jobs", "1"]);
        let four = Project::shipped();
        four.ok(&["--engine", engine, "run-etl", "--jobs", "4"]);
        assert_same(
            &four.dump_engine(engine, &[]),
            &one.dump_engine(engine, &[]),
            "--jobs 4 differs from --jobs 1",
        );
        let books = "SELECT source, files, records_read, loaded, rejected, superseded, removed \
                     FROM weir_load_sources ORDER BY source";
        assert_eq!(four.sql(engine, books), one.sql(engine, books), "{engine}");
    }
}
