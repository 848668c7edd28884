//! `weir run` on the shipped sample data: the main job, and the promise that file order and
//! re-runs change nothing.

use crate::harness::{Project, assert_same};

#[test]
fn shipped_sample_data_reports() {
    let p = Project::shipped();
    let out = p.ok(&["run"]);
    assert!(
        out.stdout.is_empty(),
        "stdout carries only data: {}",
        out.stdout
    );
    let reports = p.reports();
    assert!(
        reports.len() >= 8,
        "{:?}",
        reports.iter().map(|r| &r.0).collect::<Vec<_>>()
    );
    for (name, csv) in reports {
        assert!(
            csv.lines().count() > 2,
            "report `{name}` is nearly empty:\n{csv}"
        );
        insta::assert_snapshot!(format!("shipped__{name}"), csv);
    }
}

#[test]
fn in_memory_run_writes_no_database() {
    let p = Project::shipped();
    p.ok(&["--in-memory", "run"]);
    assert!(!p.path("warehouse.sqlite").exists());
    assert!(p.path("output/incident_monthly.csv").exists());
    // The original tool's variable, from .env.
    let p = Project::shipped();
    p.write(".env", "DB_MODE=MEMORY\n");
    p.ok(&["run"]);
    assert!(!p.path("warehouse.sqlite").exists());
}

#[test]
fn file_order_and_reruns_do_not_change_the_database() {
    let forward = Project::shipped();
    forward.ok(&["run"]);
    let expected = forward.dump("warehouse.sqlite");

    // Loaded twice.
    forward.ok(&["run-etl"]);
    assert_eq!(
        forward.dump("warehouse.sqlite"),
        expected,
        "a second load changed the database"
    );

    // Every folder in reverse file order.
    let reversed = Project::shipped();
    reversed.reverse_file_order();
    reversed.ok(&["run"]);
    // Renaming the files changes only where each row says it came from (`$file`).
    let provenance = ["source_file"];
    assert_same(
        &reversed.dump_without("warehouse.sqlite", &provenance),
        &forward.dump_without("warehouse.sqlite", &provenance),
        "reverse file order changed the database",
    );
    assert_eq!(reversed.reports(), forward.reports());
}

#[test]
fn files_loaded_one_run_at_a_time_newest_first() {
    // Each file in its own run-etl, last file first: every record's newest copy is stored
    // before its older copies arrive, the hardest order for a last-write-wins loader.
    let all = Project::shipped();
    all.ok(&["run-etl"]);
    let expected = all.dump("warehouse.sqlite");

    let p = Project::shipped();
    let raw = p.path("raw_data");
    let staged = p.path("staged");
    std::fs::rename(&raw, &staged).unwrap();
    let mut files = Vec::new();
    for source in std::fs::read_dir(&staged).unwrap() {
        let source = source.unwrap().path();
        std::fs::create_dir_all(raw.join(source.file_name().unwrap())).unwrap();
        for f in std::fs::read_dir(&source).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    files.sort();
    files.reverse();
    for f in files {
        let rel = f.strip_prefix(&staged).unwrap().to_path_buf();
        std::fs::rename(&f, raw.join(&rel)).unwrap();
        p.ok(&["run-etl", rel.parent().unwrap().to_str().unwrap()]);
    }
    assert_same(
        &p.dump("warehouse.sqlite"),
        &expected,
        "loading newest first changed the database",
    );
}
