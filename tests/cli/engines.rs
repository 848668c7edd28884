//! Both engines: the same schemas, mappers and queries give byte-identical reports; choosing an
//! engine; report formats.

use crate::harness::{Project, engines};

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn reports_are_identical_on_every_engine() {
    let mut first: Option<(String, Vec<(String, String)>)> = None;
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run"]);
        let reports = p.reports();
        match &first {
            None => first = Some((engine.to_string(), reports)),
            Some((other, expected)) => {
                for ((name, csv), (_, want)) in reports.iter().zip(expected) {
                    assert_eq!(
                        csv, want,
                        "report `{name}` differs between {engine} and {other}"
                    );
                }
                assert_eq!(reports.len(), expected.len());
            }
        }
    }
}

#[test]
fn the_engine_follows_flag_environment_and_file_name() {
    let p = Project::fixture("empty");
    let out = p.weir_env(&["initialize"], &[("WEIR_ENGINE", "sqllite")]);
    insta::assert_snapshot!(out.stderr, @r"
    error: WEIR_ENGINE: unknown engine `sqllite`
      hint: did you mean `sqlite`?
    ");
    let out = p.weir(&["--engine", "mysql", "initialize"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    if cfg!(feature = "duckdb") {
        p.ok(&["--db", "x.duckdb", "initialize"]);
        assert!(p.path("x.duckdb").exists());
        p.ok(&["--engine", "duckdb", "initialize"]);
        assert!(p.path("warehouse.duckdb").exists());
        let out = p.weir_env(
            &["initialize"],
            &[("WEIR_ENGINE", "duckdb"), ("WEIR_DB", "y.db")],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(p.path("y.db").exists());
    } else {
        let out = p.weir(&["--engine", "duckdb", "initialize"]);
        assert_eq!(out.code, 1);
        assert!(
            out.stderr
                .contains("this build of weir has no duckdb engine"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn json_and_parquet_reports() {
    let p = Project::fixture("empty");
    p.write("queries/zz.sql", "SELECT 'a\"b' AS t, NULL AS n, 2.5 AS r, 3 AS i UNION ALL SELECT 'c', 1, 0.5, 4 ORDER BY i");
    for engine in engines() {
        p.ok(&["--engine", engine, "initialize"]);
    }
    p.ok(&["run-queries", "--format", "json", "zz"]);
    insta::assert_snapshot!(p.read("output/zz.json"), @r#"
    [
      {"t": "a\"b", "n": null, "r": 2.5, "i": 3},
      {"t": "c", "n": 1, "r": 0.5, "i": 4}
    ]
    "#);
    let out = p.weir(&["run-queries", "--format", "parquet", "zz"]);
    insta::assert_snapshot!(out.stderr, @"error: queries/zz.sql: the sqlite engine cannot write Parquet; run with `--engine duckdb`");
    if cfg!(feature = "duckdb") {
        p.ok(&[
            "--engine",
            "duckdb",
            "run-queries",
            "--format",
            "parquet",
            "zz",
        ]);
        let bytes = std::fs::read(p.path("output/zz.parquet")).unwrap();
        assert!(
            bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"),
            "not a Parquet file"
        );
        p.ok(&[
            "--engine",
            "duckdb",
            "run-queries",
            "--format",
            "json",
            "zz",
        ]);
        insta::assert_snapshot!(p.read("output/zz.json"), @r#"
        [
          {"t": "a\"b", "n": null, "r": 2.5, "i": 3},
          {"t": "c", "n": 1, "r": 0.5, "i": 4}
        ]
        "#);
    }
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn a_load_larger_than_a_batch_matches_sqlite() {
    // DuckDB merges held rows in batches of 10,000 records; 120,000 records with repeated keys
    // and tied versions cross batch boundaries, and must end as the row-by-row SQLite load does.
    let p = Project::empty();
    p.write("schemas/01.sql", "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, n BIGINT);\nCREATE TABLE c (id BIGINT, k BIGINT, n BIGINT, PRIMARY KEY (id, k));");
    p.write(
        "mappers/t.yaml",
        "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  n: n\nchildren:\n  - table: c\n    each: c\n    link: {id: id}\n    columns:\n      k: .\n      n: $parent.n\n",
    );
    let mut lines = String::new();
    for i in 0..120_000u64 {
        let id = i % 30_011;
        let v = (i * 7_919) % 1_000;
        let kids: Vec<String> = (0..(i % 3)).map(|k| ((i + k) % 4).to_string()).collect();
        lines.push_str(&format!(
            "{{\"id\": {id}, \"v\": {v}, \"n\": {i}, \"c\": [{}]}}\n",
            kids.join(", ")
        ));
    }
    p.write("raw_data/t/a.jsonl", &lines);
    let mut dumps = Vec::new();
    for engine in engines() {
        p.ok(&["--engine", engine, "run-etl"]);
        dumps.push((engine, p.dump_engine(engine, &[])));
    }
    for (engine, dump) in &dumps[1..] {
        crate::harness::assert_same(dump, &dumps[0].1, &format!("{engine} differs from sqlite"));
    }
    assert!(dumps[0].1.lines().count() > 30_000);
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn a_replaced_row_keeps_the_columns_its_mapper_does_not_write() {
    // Two mappers write one table, each its own columns; a column neither writes keeps its
    // default. Replacing a row (equal versions replace, whatever the order) sets only the
    // writer's columns, on every engine, also across DuckDB's batches.
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id TEXT PRIMARY KEY, v BIGINT, a TEXT, flag BOOLEAN, score DOUBLE, \
         day DATE, b TEXT, d TEXT DEFAULT 'x');",
    );
    p.write(
        "mappers/a.yaml",
        "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  a: a\n  flag: flag\n  score: score\n  day: day\n",
    );
    p.write(
        "mappers/b.yaml",
        "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  b: b\n",
    );
    let mut a = String::new();
    let mut b = String::new();
    for i in 0..25_000 {
        a.push_str(&format!(
            "{{\"id\": \"{i}\", \"v\": 1, \"a\": \"A{i}\", \"flag\": {}, \"score\": {i}.5, \"day\": \"2026-11-{:02}\"}}\n",
            i % 2 == 0,
            1 + i % 28
        ));
        if i % 2 == 0 {
            b.push_str(&format!("{{\"id\": \"{i}\", \"v\": 1, \"b\": \"B{i}\"}}\n"));
        }
    }
    p.write("raw_data/a/1.jsonl", &a);
    p.write("raw_data/b/1.jsonl", &b);
    let mut dumps = Vec::new();
    for engine in engines() {
        p.ok(&["--engine", engine, "run-etl"]);
        // Again, each writer replacing the rows the other wrote last.
        p.ok(&["--engine", engine, "run-etl", "--full"]);
        assert_eq!(
            p.sql(
                engine,
                "SELECT id, v, a, flag, score, CAST(day AS TEXT), b, d FROM t WHERE id IN ('0', '1', '24999') ORDER BY id"
            ),
            [
                "0|1|A0|1|0.5|2026-11-01|B0|x",
                "1|1|A1|0|1.5|2026-11-02||x",
                "24999|1|A24999|0|24999.5|2026-11-24||x"
            ],
            "{engine}"
        );
        let all = "SELECT id, v, a, flag, score, CAST(day AS TEXT), b, d FROM t ORDER BY id";
        dumps.push((engine, p.sql(engine, all)));
    }
    assert_eq!(dumps[0].1.len(), 25_000);
    for (engine, rows) in &dumps[1..] {
        assert!(rows == &dumps[0].1, "{engine} differs from sqlite");
    }
}

#[test]
#[cfg_attr(
    not(feature = "duckdb"),
    ignore = "engine parity: this build has no DuckDB"
)]
fn a_row_replaced_twice_in_one_load_is_counted_like_sqlite() {
    // A writer that leaves columns to another updates stored rows in place on DuckDB (their row
    // ids stay); a later batch of the same load replacing one again must count the first copy
    // as superseded, as SQLite does.
    let mut seen = Vec::new();
    for engine in engines() {
        let p = Project::empty();
        p.write(
            "schemas/01.sql",
            "CREATE TABLE t (id TEXT PRIMARY KEY, v BIGINT, a TEXT, b TEXT);",
        );
        p.write(
            "mappers/a.yaml",
            "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  a: a\n",
        );
        p.write(
            "mappers/b.yaml",
            "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  b: b\n",
        );
        let rows = |v: u32, col: &str| -> String {
            (0..12_500)
                .map(|i| {
                    format!(
                        "{{\"id\": \"{}\", \"v\": {v}, \"{col}\": \"{col}{v}\"}}\n",
                        i * 2
                    )
                })
                .collect()
        };
        p.write("raw_data/a/1.jsonl", &rows(1, "a"));
        p.ok(&["--engine", engine, "run-etl"]);
        p.write("raw_data/b/2.jsonl", &rows(2, "b"));
        p.write("raw_data/b/3.jsonl", &rows(3, "b"));
        let out = p.ok(&["--engine", engine, "run-etl"]);
        let line = out
            .stderr
            .lines()
            .find(|l| l.starts_with("loaded b"))
            .unwrap_or_else(|| panic!("{engine}: {}", out.stderr))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            line, "loaded b 2 files 25000 records 12500 written 12500 superseded",
            "{engine}"
        );
        assert_eq!(
            p.sql(engine, "SELECT count(*), min(a), min(b), min(v) FROM t"),
            ["12500|a1|b3|3"],
            "{engine}"
        );
        seen.push(engine);
    }
    assert_eq!(seen, ["sqlite", "duckdb"]);
}

#[test]
fn a_parent_table_rebuilt_alone_gets_its_children_once() {
    // The children of a rebuilt parent table stay behind; the reload must replace them, not add
    // a second copy (DuckDB's tables have no key index to refuse one).
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run-etl"]);
        let expected = p.dump_engine(engine, &[]);
        let drop = "DROP TABLE pagerduty_incidents";
        match engine {
            "sqlite" => rusqlite::Connection::open(p.path("warehouse.sqlite"))
                .unwrap()
                .execute_batch(drop)
                .unwrap(),
            #[cfg(feature = "duckdb")]
            "duckdb" => duckdb::Connection::open(p.path("warehouse.duckdb"))
                .unwrap()
                .execute_batch(drop)
                .unwrap(),
            other => panic!("no engine {other} in this build"),
        }
        p.ok(&["--engine", engine, "initialize"]);
        p.ok(&["--engine", engine, "run-etl"]);
        crate::harness::assert_same(
            &p.dump_engine(engine, &[]),
            &expected,
            &format!("{engine}: reload after rebuilding pagerduty_incidents"),
        );
    }
}

/// DuckDB keeps a key's index whole in memory, so weir makes DuckDB tables without one and keeps
/// the key itself; a load into a file keeps to a memory limit it sizes, or the one it is given.
#[cfg(feature = "duckdb")]
#[test]
fn duckdb_tables_have_no_key_index_and_loads_keep_to_a_memory_limit() {
    let p = Project::shipped();
    p.ok(&["--engine", "duckdb", "initialize"]);
    let empty = p.dump_engine("duckdb", &[]);
    assert_eq!(
        p.sql("duckdb", "SELECT count(*) FROM duckdb_indexes()"),
        ["0"]
    );
    assert_eq!(
        p.sql(
            "duckdb",
            "SELECT key_columns FROM weir_keys WHERE table_name = 'incidents'"
        ),
        ["incident_name\u{1f}incident_date"]
    );
    // Too little memory: one line naming the setting, and nothing stored.
    let out = p.weir_env(
        &["--engine", "duckdb", "run-etl"],
        &[("WEIR_DUCKDB_MEMORY", "1MB")],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains(
            "DuckDB needs more than the 1 MiB this load may use (WEIR_DUCKDB_MEMORY); set WEIR_DUCKDB_MEMORY to more"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(p.dump_engine("duckdb", &[]), empty);
    let out = p.weir_env(
        &["--engine", "duckdb", "run-etl"],
        &[("WEIR_DUCKDB_MEMORY", "lots")],
    );
    insta::assert_snapshot!(out.stderr, @r"
    error: WEIR_DUCKDB_MEMORY: `lots` is not an amount of memory from 1MB to 1PB
      hint: write a size such as `512MB` or `2GB` (or remove it to let weir size it)
    ");
    // Sized by weir, or given: the load goes through, and gives the same rows either way.
    p.ok(&["--engine", "duckdb", "run-etl"]);
    let loaded = p.dump_engine("duckdb", &[]);
    assert_ne!(loaded, empty);
    p.write(
        ".env",
        &format!("{}WEIR_DUCKDB_MEMORY=256MB\n", p.read(".env")),
    );
    p.ok(&["--engine", "duckdb", "run-etl", "--full"]);
    assert_eq!(p.dump_engine("duckdb", &[]), loaded);
    // Initializing again finds the tables as declared, keys included.
    p.ok(&["--engine", "duckdb", "initialize"]);
}

#[test]
fn a_column_of_untyped_nulls_is_empty_on_every_engine() {
    let p = Project::fixture("empty");
    p.write("queries/zz.sql", "SELECT NULL AS n, 1 AS i");
    for engine in engines() {
        p.ok(&["--engine", engine, "initialize"]);
        p.ok(&["--engine", engine, "run-queries", "zz"]);
        assert_eq!(p.read("output/zz.csv"), "n,i\r\n,1\r\n", "{engine}");
    }
}
