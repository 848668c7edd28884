//! `weir export` and `weir import`: a round trip gives the same rows, on every engine and across
//! engines; the manifest pins the bytes; an export appears whole or not at all.

use std::path::Path;

use crate::harness::{Project, engines};

/// A small project whose rows hold what CSV must keep apart: a comma, a quote, a line break, an
/// empty text and NULL, a negative number, a real, booleans, and a child table.
pub fn tickets() -> Project {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, n BIGINT, score DOUBLE, open BOOLEAN, note TEXT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
    );
    p.write(
        "mappers/tickets.yaml",
        "records: tickets
table: tickets
key: [id]
columns:
  id: id
  status: status
  n: n
  score: score
  open: open
  note: note
children:
  - table: ticket_tags
    each: tags
    link: {ticket_id: id}
    columns:
      tag: .
",
    );
    p.write(
        "raw_data/tickets/a.json",
        r#"{"tickets": [
 {"id": "T2", "status": "", "n": -1, "score": 0.1, "open": false, "note": "two\nlines", "tags": []},
 {"id": "T1", "status": "open, urgent", "n": 3, "score": 2.5, "open": true, "note": "say \"hi\"", "tags": ["sev1", "db"]},
 {"id": "T3", "status": null, "n": null, "score": null, "open": null, "note": null, "tags": ["x"]}
]}"#,
    );
    p
}

/// A project with `from`'s schemas, mappers and queries, and no raw data or database.
pub fn fresh_like(from: &Project) -> Project {
    let p = Project::empty();
    for folder in ["schemas", "mappers", "queries"] {
        copy(&from.path(folder), &p.path(folder));
    }
    p
}

fn copy(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    std::fs::create_dir_all(to).unwrap();
    for e in entries {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The files of an export folder with their bytes, the manifest's time blanked.
pub fn export_files(p: &Project, dir: &str) -> Vec<(String, Vec<u8>)> {
    p.files(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(p.path(&format!("{dir}/{f}"))).unwrap();
            let bytes = if f == "manifest.json" {
                without_time(&String::from_utf8(bytes).unwrap()).into_bytes()
            } else {
                bytes
            };
            (f, bytes)
        })
        .collect()
}

/// The manifest with its `exported_at` as `[TIME]` and the version as `[VERSION]`.
pub fn without_time(manifest: &str) -> String {
    manifest
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("\"exported_at\"") {
                "  \"exported_at\": \"[TIME]\",".to_string()
            } else if l.trim_start().starts_with("\"weir_version\"") {
                "  \"weir_version\": \"[VERSION]\",".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the project folder holds that starts with a dot: a staging folder left behind.
fn hidden(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

fn assert_same_files(got: &[(String, Vec<u8>)], want: &[(String, Vec<u8>)], what: &str) {
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}");
    for ((name, a), (_, b)) in got.iter().zip(want) {
        assert!(
            a == b,
            "{what}: `{name}` differs:\n{}\n---\n{}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn the_manifest_and_the_csv_are_pinned() {
    let p = tickets();
    p.ok(&["run"]);
    let out = p.ok(&["export", "--to", "out"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 0
    --- stdout
    --- stderr
    exported 2 tables (6 rows) to out
    ");
    assert_eq!(
        p.files("out"),
        ["manifest.json", "ticket_tags.csv", "tickets.csv"]
    );
    // NULL is an empty cell, an empty text `""`; rows in key order; CRLF between rows.
    assert_eq!(
        p.read("out/tickets.csv"),
        "id,status,n,score,open,note\r\nT1,\"open, urgent\",3,2.5,1,\"say \"\"hi\"\"\"\r\n\
         T2,\"\",-1,0.1,0,\"two\nlines\"\r\nT3,,,,,\r\n"
    );
    insta::assert_snapshot!(
        "tickets_manifest",
        without_time(&p.read("out/manifest.json"))
    );
    let manifest: serde_json::Value = serde_json::from_str(&p.read("out/manifest.json")).unwrap();
    let at = manifest["exported_at"].as_str().unwrap();
    assert!(
        at.parse::<jiff::Timestamp>().is_ok() && at.ends_with('Z'),
        "{at}"
    );
    assert_eq!(manifest["weir_version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn a_round_trip_gives_the_same_rows() {
    for engine in engines() {
        let a = Project::shipped();
        // The checks' results are not tables: the reports compared below are the queries'.
        a.ok(&["--engine", engine, "run", "--no-checks"]);
        a.ok(&["--engine", engine, "export", "--to", "out"]);
        let b = fresh_like(&a);
        let from = a.path("out");
        b.ok(&["--engine", engine, "import", from.to_str().unwrap()]);
        b.ok(&["--engine", engine, "export", "--to", "out"]);
        assert_same_files(
            &export_files(&b, "out"),
            &export_files(&a, "out"),
            &format!("export of the import on {engine}"),
        );
        crate::harness::assert_same(
            &b.dump_engine(engine, &[]),
            &a.dump_engine(engine, &[]),
            &format!("the imported database on {engine}"),
        );
        // The reports read the imported rows as they read the loaded ones.
        b.ok(&["--engine", engine, "run-queries"]);
        assert_eq!(
            b.reports(),
            a.reports(),
            "reports after the import on {engine}"
        );
    }
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn exports_are_identical_on_every_engine_and_import_across_them() {
    let mut first: Option<(String, Project)> = None;
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run"]);
        p.ok(&["--engine", engine, "export", "--to", "out"]);
        match &first {
            None => first = Some((engine.to_string(), p)),
            Some((other, q)) => {
                assert_same_files(
                    &export_files(&p, "out"),
                    &export_files(q, "out"),
                    &format!("the export of {engine} against {other}"),
                );
                // Each engine's export loads into the other.
                for (from, to_engine) in [(q, engine), (&p, other.as_str())] {
                    let b = fresh_like(from);
                    let dir = from.path("out");
                    b.ok(&["--engine", to_engine, "import", dir.to_str().unwrap()]);
                    b.ok(&["--engine", to_engine, "export", "--to", "out"]);
                    assert_same_files(
                        &export_files(&b, "out"),
                        &export_files(from, "out"),
                        &format!("an export imported into {to_engine}"),
                    );
                }
            }
        }
    }
}

#[test]
fn tables_picks_some_and_names_the_unknown() {
    let p = tickets();
    p.ok(&["run"]);
    p.ok(&["export", "--to", "one", "--tables", "tickets"]);
    assert_eq!(p.files("one"), ["manifest.json", "tickets.csv"]);
    p.ok(&["export", "--to", "both", "--tables", "ticket_tags,tickets"]);
    assert_eq!(
        p.files("both"),
        ["manifest.json", "ticket_tags.csv", "tickets.csv"]
    );
    let out = p.weir(&[
        "export",
        "--to",
        "x",
        "--tables",
        "tikets",
        "--tables",
        "weir_files",
    ]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: --tables: no table `tikets` in schemas/
      hint: did you mean `tickets`?
    error: --tables: no table `weir_files` in schemas/
      hint: weir's own tables stay with the database: they describe its raw files and hold quarantined raw records
    2 problems
    ");
    assert!(!p.path("x").exists());
    // An import of a part leaves the other tables as they are.
    let b = fresh_like(&p);
    b.ok(&["import", p.path("one").to_str().unwrap()]);
    assert_eq!(b.sql("sqlite", "SELECT count(*) FROM tickets"), ["3"]);
    assert_eq!(b.sql("sqlite", "SELECT count(*) FROM ticket_tags"), ["0"]);
}

#[test]
fn a_folder_in_use_is_refused_and_force_replaces_only_an_export() {
    let p = tickets();
    p.ok(&["run"]);
    p.write("mine/notes.txt", "keep me");
    let out = p.weir(&["export", "--to", "mine"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: mine: the folder is not empty
      hint: pass `--force` to replace an earlier export, or name a new folder
    ");
    let out = p.weir(&["export", "--to", "mine", "--force"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: mine: the folder holds no `manifest.json`: it is not an export, and `--force` replaces only an export
      hint: name a new folder for the export
    ");
    assert_eq!(p.read("mine/notes.txt"), "keep me");
    // An empty folder takes an export; an export is replaced with `--force`, whole.
    std::fs::create_dir_all(p.path("empty")).unwrap();
    p.ok(&["export", "--to", "empty", "--tables", "tickets"]);
    p.ok(&["export", "--to", "empty", "--force"]);
    assert_eq!(
        p.files("empty"),
        ["manifest.json", "ticket_tags.csv", "tickets.csv"]
    );
    p.write("a_file", "");
    let out = p.weir(&["export", "--to", "a_file"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    // Nothing of the attempts is left beside the folders.
    assert_eq!(hidden(&p), Vec::<String>::new());
}

#[test]
fn a_failed_export_leaves_nothing_and_the_earlier_one_whole() {
    let p = tickets();
    p.ok(&["run"]);
    // SQLite cannot write Parquet: the first table's CSV is written before that is found.
    let out = p.weir(&["export", "--to", "out", "--parquet"]);
    insta::assert_snapshot!(out.transcript(), @r"
    exit: 1
    --- stdout
    --- stderr
    error: --parquet: the sqlite engine cannot write Parquet; run with `--engine duckdb`
    ");
    assert!(!p.path("out").exists());
    assert_eq!(hidden(&p), Vec::<String>::new());
    p.ok(&["export", "--to", "out", "--tables", "tickets"]);
    let before = export_files(&p, "out");
    let out = p.weir(&["export", "--to", "out", "--force", "--parquet"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert_same_files(&export_files(&p, "out"), &before, "the earlier export");
    assert_eq!(hidden(&p), Vec::<String>::new());
}

#[test]
#[cfg_attr(not(feature = "duckdb"), ignore = "Parquet: this build has no DuckDB")]
fn parquet_is_written_beside_the_csv_on_duckdb() {
    let p = tickets();
    p.ok(&["--engine", "duckdb", "run"]);
    p.ok(&["--engine", "duckdb", "export", "--to", "out", "--parquet"]);
    assert_eq!(
        p.files("out"),
        [
            "manifest.json",
            "ticket_tags.csv",
            "ticket_tags.parquet",
            "tickets.csv",
            "tickets.parquet"
        ]
    );
    let bytes = std::fs::read(p.path("out/tickets.parquet")).unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let manifest: serde_json::Value = serde_json::from_str(&p.read("out/manifest.json")).unwrap();
    assert_eq!(manifest["tables"][0]["parquet"]["file"], "tickets.parquet");
    // The import checks the Parquet file's hash too, and loads the CSV.
    let b = fresh_like(&p);
    b.ok(&["import", p.path("out").to_str().unwrap()]);
    std::fs::write(p.path("out/tickets.parquet"), b"PAR1PAR1").unwrap();
    let out = b.weir(&["import", p.path("out").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr
            .contains("tickets.parquet: the file does not match"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_database_must_exist_and_match_the_schema() {
    let p = tickets();
    let out = p.weir(&["export", "--to", "out"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("the database does not exist"),
        "{}",
        out.stderr
    );
    let out = p.weir(&["--in-memory", "export", "--to", "out"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    p.ok(&["run"]);
    p.write(
        "schemas/01.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, n BIGINT, score DOUBLE, open BOOLEAN, note TEXT, extra TEXT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
    );
    let out = p.weir(&["export", "--to", "out"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("column `extra` is missing"),
        "{}",
        out.stderr
    );
    assert!(!p.path("out").exists());
}
