//! `weir run` on the shipped sample data: the main job, and the promise that file order and
//! re-runs change nothing, on every engine.

use crate::harness::{Project, assert_same, engines};

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
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "--in-memory", "run"]);
        assert!(!p.path("warehouse.sqlite").exists() && !p.path("warehouse.duckdb").exists());
        assert!(p.path("output/incident_monthly.csv").exists());
    }
    // The original tool's variable, from .env.
    let p = Project::shipped();
    p.write(".env", &format!("{}DB_MODE=MEMORY\n", p.read(".env")));
    p.ok(&["run"]);
    assert!(!p.path("warehouse.sqlite").exists());
}

#[test]
fn file_order_and_reruns_do_not_change_the_database() {
    for engine in engines() {
        let forward = Project::shipped();
        forward.ok(&["--engine", engine, "run"]);
        let expected = forward.dump_engine(engine, &[]);
        assert!(
            expected.lines().count() > 500,
            "{engine}: the sample data did not load"
        );

        // Loaded twice.
        forward.ok(&["--engine", engine, "run-etl"]);
        assert_same(
            &forward.dump_engine(engine, &[]),
            &expected,
            &format!("{engine}: a second load changed the database"),
        );

        // Every folder in reverse file order. Renaming the files changes only where each row
        // says it came from (`$file`).
        let reversed = Project::shipped();
        reversed.reverse_file_order();
        reversed.ok(&["--engine", engine, "run"]);
        let provenance = ["source_file"];
        assert_same(
            &reversed.dump_engine(engine, &provenance),
            &forward.dump_engine(engine, &provenance),
            &format!("{engine}: reverse file order changed the database"),
        );
        assert_eq!(reversed.reports(), forward.reports());
    }
}

#[test]
fn files_loaded_one_run_at_a_time_newest_first() {
    // Each file in its own run-etl, last file first: every record's newest copy is stored
    // before its older copies arrive, the hardest order for a last-write-wins loader.
    for engine in engines() {
        let all = Project::shipped();
        all.ok(&["--engine", engine, "run-etl"]);
        let expected = all.dump_engine(engine, &[]);

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
            p.ok(&[
                "--engine",
                engine,
                "run-etl",
                rel.parent().unwrap().to_str().unwrap(),
            ]);
        }
        // The SLO list is a source outside raw_data/ (`files:` in mappers/slos.yaml).
        p.ok(&["--engine", engine, "run-etl", "slos"]);
        assert_same(
            &p.dump_engine(engine, &[]),
            &expected,
            &format!("{engine}: loading newest first changed the database"),
        );
    }
}
