//! `--on-error quarantine`: bad records are set aside in `weir_rejected` with where and why, the
//! rest loads, the run exits 3; every load keeps its books in `weir_loads`.

use crate::harness::{Project, engines};

/// The shipped project with one bad incident, one page that is not JSON, and a team page whose
/// second record has no id.
pub(crate) fn with_bad_records() -> Project {
    let p = Project::shipped();
    let yaml = p.read("raw_data/incidents/2026-10.yaml").replacen(
        "root_causes: [capacity]",
        "root_causes: [capacty]",
        1,
    );
    p.write("raw_data/incidents/2026-10.yaml", &yaml);
    p.write(
        "raw_data/pagerduty_services/page-0005.json",
        "{\"weir_page\": 1,",
    );
    let teams =
        p.read("raw_data/pagerduty_teams/page-0001.json")
            .replacen("\"id\": \"PTPAY01\",", "", 1);
    p.write("raw_data/pagerduty_teams/page-0001.json", &teams);
    p
}

#[test]
fn bad_records_are_set_aside_and_the_rest_loads() {
    for engine in engines() {
        let p = with_bad_records();
        let out = p.weir(&["--engine", engine, "run-etl", "--on-error", "quarantine"]);
        assert_eq!(out.code, 3, "{engine}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("3 records set aside in the table weir_rejected"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("set aside: raw_data/incidents/2026-10.yaml:12:17: root_causes[0]"),
            "{}",
            out.stderr
        );
        let rejected = p.sql(
            engine,
            "SELECT source, file, line, record, field, reason, raw IS NULL FROM weir_rejected ORDER BY source",
        );
        assert_eq!(rejected.len(), 3, "{rejected:#?}");
        assert!(
            rejected[0].starts_with(
                "incidents|raw_data/incidents/2026-10.yaml|4|/0|root_causes[0]|`capacty` is not in"
            ),
            "{}",
            rejected[0]
        );
        assert!(
            rejected[0].ends_with("|0"),
            "the raw record is kept: {}",
            rejected[0]
        );
        assert!(
            rejected[1]
                .starts_with("pagerduty_services|raw_data/pagerduty_services/page-0005.json|1||"),
            "{}",
            rejected[1]
        );
        assert!(rejected[1].ends_with("|1"), "{}", rejected[1]);
        assert!(
            rejected[2].starts_with(
                "pagerduty_teams|raw_data/pagerduty_teams/page-0001.json||/body/teams/1|id|"
            ),
            "{}",
            rejected[2]
        );
        let raw = p.sql(
            engine,
            "SELECT raw FROM weir_rejected WHERE source = 'pagerduty_teams'",
        );
        assert!(raw[0].contains("\"summary\":\"Payments\""), "{raw:?}");

        // Everything else is loaded: 40 of 41 incidents, the other team.
        assert_eq!(p.sql(engine, "SELECT count(*) FROM incidents"), ["40"]);
        assert_eq!(p.sql(engine, "SELECT count(*) FROM pagerduty_teams"), ["4"]);

        // The books balance, per source and in all.
        let books = p.sql(
            engine,
            "SELECT status, on_error, records_read, loaded, rejected, superseded FROM weir_loads",
        );
        assert_eq!(books.len(), 1);
        let n: Vec<&str> = books[0].split('|').collect();
        assert_eq!(&n[..2], ["partial", "quarantine"]);
        let n: Vec<u64> = n[2..].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!(n[0], n[1] + n[2] + n[3], "{books:?}");
        assert_eq!(n[2], 3);

        // Fixing the file and running again clears its rejections; the others stay, from files
        // that did not change and so were not read again.
        p.age_raw_files();
        p.write(
            "raw_data/pagerduty_services/page-0005.json",
            &p.read("raw_data/pagerduty_services/page-0004.json"),
        );
        let out = p.weir(&["--engine", engine, "run-etl", "--on-error", "quarantine"]);
        assert_eq!(out.code, 0, "{engine}: {}", out.stderr);
        let left = p.sql(engine, "SELECT source FROM weir_rejected ORDER BY source");
        assert_eq!(left, ["incidents", "pagerduty_teams"], "{engine}");
    }
}

#[test]
fn fail_mode_loads_nothing_and_notes_the_failed_run() {
    for engine in engines() {
        let p = with_bad_records();
        let out = p.weir(&["--engine", engine, "run-etl"]);
        assert_eq!(out.code, 1, "{engine}: {}", out.stderr);
        assert_eq!(p.sql(engine, "SELECT count(*) FROM incidents"), ["0"]);
        assert_eq!(p.sql(engine, "SELECT count(*) FROM weir_rejected"), ["0"]);
        assert_eq!(
            p.sql(engine, "SELECT id, status, loaded FROM weir_loads"),
            ["1|failed|0"]
        );
    }
}
