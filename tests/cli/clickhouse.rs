//! The ClickHouse engine against a real 2-shard cluster of `clickhouse-server` processes on
//! 127.0.0.1 (free ports, a temp folder each), started per test and stopped by pid when the test
//! ends, pass or fail. They need the server binary (Debian's `clickhouse-server`), so a plain
//! `cargo test` reports them ignored with the reason; `.ci/run` installs it and runs them.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::cluster::{Cluster, PASSWORD, free_port, post, wait_for};
use crate::harness::{Project, assert_same};

/// The sample loads into the cluster with the same rows as into SQLite; a re-run reads nothing
/// again; `--full` reads everything again and leaves no duplicate or older version visible;
/// files in reverse order end the same.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn the_sample_loads_into_a_two_shard_cluster_as_into_sqlite() {
    let cluster = Cluster::start();
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    let expected = p.dump("warehouse.sqlite");
    let url = cluster.url("weir");
    p.ok(&["--db", &url, "run-etl"]);
    let dump = cluster.dump("weir");
    assert_same(&dump, &expected, "the cluster after one run-etl");

    // Rows are spread over both shards.
    for port in &cluster.http {
        let n = post(
            *port,
            "weir",
            "SELECT count() FROM pagerduty_log_entries__local",
        );
        assert!(
            n.trim().parse::<u64>().unwrap() > 50,
            "shard on {port} holds {n}"
        );
    }

    let again = p.ok(&["--db", &url, "run-etl"]);
    assert!(!again.stderr.contains("\nloaded "), "{}", again.stderr);
    assert_same(&cluster.dump("weir"), &expected, "after a re-run");

    let full = p.ok(&["--db", &url, "run-etl", "--full"]);
    assert!(
        full.stderr.contains("loaded pagerduty_incidents"),
        "{}",
        full.stderr
    );
    assert_same(&cluster.dump("weir"), &expected, "after run-etl --full");

    // The books: every load's records read = loaded + rejected + superseded.
    let books = cluster.query(
        "weir",
        "SELECT count() FROM weir_loads WHERE records_read <> loaded + rejected + superseded OR status <> 'ok' FORMAT TabSeparated",
    );
    assert_eq!(
        books.trim(),
        "0",
        "{}",
        cluster.query("weir", "SELECT * FROM weir_loads FORMAT TabSeparated")
    );
    let loads = cluster.query("weir", "SELECT count() FROM weir_loads FORMAT TabSeparated");
    assert_eq!(loads.trim(), "3");

    // Another database, files named in the opposite order: the same rows.
    let reversed = Project::shipped();
    reversed.reverse_file_order();
    reversed.ok(&["run-etl"]);
    reversed.ok(&["--db", &cluster.url("reversed"), "run-etl"]);
    assert_same(
        &cluster.dump("reversed"),
        &reversed.dump("warehouse.sqlite"),
        "with files in reverse order",
    );
}

/// A wrong password is one line that names the server and the user, never the password.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn a_refused_password_is_one_line_without_the_password() {
    let cluster = Cluster::start();
    let p = Project::shipped();
    let url = format!("http://127.0.0.1:{}/weir", cluster.http[0]);
    let out = p.weir_env(
        &["--db", &url, "run-etl"],
        &[
            ("CLICKHOUSE_USER", "weir"),
            ("CLICKHOUSE_PASSWORD", "wrong-password-xyz"),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        !out.transcript().contains("wrong-password-xyz"),
        "{}",
        out.transcript()
    );
    let error: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(error.len(), 1, "{}", out.stderr);
    assert!(
        error[0].contains("refused the user `weir`") && error[0].contains("wrong password"),
        "{}",
        out.stderr
    );

    // In the URL instead: never echoed either.
    let url = format!(
        "http://weir:wrong-password-xyz@127.0.0.1:{}/weir",
        cluster.http[0]
    );
    let out = p.weir(&["--db", &url, "run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        !out.transcript().contains("wrong-password-xyz"),
        "{}",
        out.transcript()
    );

    // The right one loads.
    let url = format!("http://127.0.0.1:{}/weir", cluster.http[0]);
    let out = p.weir_env(
        &["--db", &url, "run-etl"],
        &[
            ("CLICKHOUSE_USER", "weir"),
            ("CLICKHOUSE_PASSWORD", PASSWORD),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.transcript().contains(PASSWORD));
}

/// SIGKILL of weir at moments spread over a load, then one run-etl: the rows of a clean load,
/// whatever the killed runs had sent.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn a_kill_mid_load_then_a_rerun_gives_a_clean_result() {
    let cluster = Cluster::start();
    let clean = crate::reliability::big(40_000);
    clean.ok(&["run-etl"]);
    let expected = clean.dump("warehouse.sqlite");

    let p = crate::reliability::big(40_000);
    let url = cluster.url("weir");
    let mut killed = 0;
    for round in 0..6u64 {
        let args: &[&str] = if round == 0 {
            &["--db", &url, "run-etl"]
        } else {
            &["--db", &url, "run-etl", "--full"]
        };
        let mut child = p.spawn(args);
        std::thread::sleep(Duration::from_millis(300 + round * 250));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if round == 0 {
            // The first load never finished: its ledger names no file.
            let files = cluster.query("weir", "SELECT count() FROM weir_files FORMAT TabSeparated");
            assert_eq!(files.trim(), "0", "a killed first load left ledger rows");
        }
    }
    assert!(
        killed >= 3,
        "only {killed} runs were still going when killed"
    );
    p.ok(&["--db", &url, "run-etl"]);
    assert_same(
        &cluster.dump("weir"),
        &expected,
        &format!("the cluster after {killed} kills"),
    );
    let again = p.ok(&["--db", &url, "run-etl"]);
    assert!(!again.stderr.contains("\nloaded "), "{}", again.stderr);
}

/// A shard down: one line naming it, nothing recorded as loaded; once it is back, a re-run
/// completes the load.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn a_shard_down_is_named_and_a_rerun_after_it_is_back_completes() {
    let mut cluster = Cluster::start();
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    let expected = p.dump("warehouse.sqlite");
    let url = cluster.url("weir");
    p.ok(&["--db", &url, "initialize"]);
    cluster.kill(1);
    let out = p.weir(&["--db", &url, "run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let shard = format!("127.0.0.1:{}", cluster.http[1]);
    assert!(
        out.stderr.contains(&shard),
        "the error does not name the shard {shard}: {}",
        out.stderr
    );
    cluster.restart(1);
    let files = cluster.query("weir", "SELECT count() FROM weir_files FORMAT TabSeparated");
    assert_eq!(
        files.trim(),
        "0",
        "files recorded as loaded with a shard down"
    );
    p.ok(&["--db", &url, "run-etl"]);
    assert_same(
        &cluster.dump("weir"),
        &expected,
        "after the shard came back",
    );
}

/// The tickets of a second folder: a third of the first folder's keys again, half at an older
/// version, half at a newer one with other tags, and keys of its own.
fn second_folder(n: usize) -> Project {
    let p = crate::reliability::big(0);
    for entry in std::fs::read_dir(p.path("mappers")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "tickets.yaml" {
            std::fs::remove_file(path).unwrap();
        }
    }
    for entry in std::fs::read_dir(p.path("raw_data")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != "tickets" {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    for part in 0..2 {
        let mut lines = String::new();
        for i in (part * 3..n + n / 5).step_by(6) {
            let at = if i % 2 == 0 {
                "2026-03-01T00:00:00Z"
            } else {
                "2026-09-01T00:00:00Z"
            };
            lines.push_str(&format!(
                r#"{{"id": "T{i}", "status": "b{}", "body": "from b", "at": "{at}", "tags": ["c{}"]}}"#,
                i % 3,
                i % 4
            ));
            lines.push('\n');
        }
        p.write(&format!("raw_data/tickets/b-{part}.jsonl"), &lines);
    }
    p
}

/// Two folders load into one warehouse at once, with keys in common: the rows of one run of
/// both folders' files, each folder's ledger its own, and a complete source refused from a
/// second folder.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn two_folders_loading_at_once_end_as_one_run_of_both() {
    let cluster = Cluster::start();
    let n = 30_000;
    let a = crate::reliability::big(n);
    let b = second_folder(n);
    let both = crate::reliability::big(n);
    for name in b
        .files("raw_data/tickets")
        .iter()
        .filter(|f| f.starts_with("b-"))
    {
        let rel = format!("raw_data/tickets/{name}");
        both.write(&rel, &b.read(&rel));
    }
    both.ok(&["run-etl"]);
    let expected = both.dump("warehouse.sqlite");

    let url = cluster.url("weir");
    a.ok(&["--db", &url, "initialize"]);
    let args = ["--db", url.as_str(), "run-etl"];
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| a.weir(&args));
        let second = s.spawn(|| b.weir(&args));
        (first.join().unwrap(), second.join().unwrap())
    });
    for (which, out) in [("first", first), ("second", second)] {
        assert_eq!(out.code, 0, "the {which} folder: {}", out.transcript());
    }
    assert_same(
        &cluster.dump("weir"),
        &expected,
        "two folders loaded at once",
    );
    let loads = cluster.query(
        "weir",
        "SELECT count(), uniqExact(id), sum(records_read = loaded + rejected + superseded) \
         FROM weir_loads FORMAT TabSeparated",
    );
    assert_eq!(loads.trim(), "2\t2\t2", "weir_loads: {loads}");
    let owners = cluster.query(
        "weir",
        "SELECT uniqExact(splitByString('//', file)[1]) FROM weir_files WHERE source = 'tickets' \
         FORMAT TabSeparated",
    );
    assert_eq!(owners.trim(), "2", "each folder keeps a ledger of its own");
    for p in [&a, &b] {
        let again = p.ok(&["--db", &url, "run-etl"]);
        assert!(!again.stderr.contains("\nloaded "), "{}", again.stderr);
    }

    let ledger = || cluster.query("weir", "SELECT count() FROM weir_files FORMAT TabSeparated");
    let before = ledger();
    let third = Project::shipped();
    let out = third.weir(&["--db", &url, "run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("is a complete source")
            && out.stderr.contains("mappers/incidents.yaml"),
        "{}",
        out.stderr
    );
    assert_eq!(ledger(), before, "a refused load changed the ledger");
    let failed = cluster.query(
        "weir",
        "SELECT status, loaded FROM weir_loads ORDER BY id DESC LIMIT 1 FORMAT TabSeparated",
    );
    assert_eq!(failed.trim(), "failed\t0", "the refused load's books");
}

/// A number into a TEXT key (and an integer into a REAL column) is stored as SQLite stores it:
/// the stored key is found again, so versions compare, a rewrite counts once, and a complete
/// source keeps the rows its files still hold.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn numbers_in_text_keys_compare_with_the_stored_keys() {
    let cluster = Cluster::start();
    let project = || {
        let p = Project::empty();
        p.write(
            "schemas/01.sql",
            "CREATE TABLE items (id TEXT PRIMARY KEY, score REAL, at TEXT);",
        );
        p.write(
            "mappers/items.yaml",
            "records: items\ntable: items\nkey: [id]\nversion: at\ncomplete: true\ncolumns:\n  id: {from: id, type: integer}\n  score: {from: score, type: integer}\n  at: at\n",
        );
        p.write(
            "raw_data/items/a.json",
            r#"{"items": [{"id": 1, "score": 5, "at": "2026-01-02"}, {"id": 2, "score": 6, "at": "2026-01-02"}, {"id": 1, "score": 7, "at": "2026-01-01"}]}"#,
        );
        p
    };
    let (local, p) = (project(), project());
    let url = cluster.url("weir");
    for (step, file) in [
        (1, None),
        (
            2,
            Some(
                r#"{"items": [{"id": 1, "score": 9, "at": "2026-01-03"}, {"id": 3, "score": 1, "at": "2026-01-01"}]}"#,
            ),
        ),
    ] {
        if let Some(text) = file {
            local.write("raw_data/items/b.json", text);
            p.write("raw_data/items/b.json", text);
        }
        let sqlite = local.ok(&["-v", "run-etl"]);
        let ch = p.ok(&["-v", "--db", &url, "run-etl"]);
        let books = |out| lines_with(out, &["superseded", "removed"]);
        assert_eq!(books(&ch), books(&sqlite), "step {step}: {}", ch.stderr);
        assert_same(
            &cluster.dump("weir"),
            &local.dump("warehouse.sqlite"),
            &format!("step {step}"),
        );
    }
}

/// The books through quarantine and a gone file, as on SQLite: a bad record set aside, the file
/// fixed (its old rejection goes), a page deleted (the ledger forgets it, its rows stay), each
/// step with the same data, ledger and `weir_rejected` as SQLite's.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn quarantine_and_a_gone_file_keep_the_books_as_on_sqlite() {
    let cluster = Cluster::start();
    let url = cluster.url("weir");
    // A bad incident, a page that is not JSON, a team without an id.
    let with_bad_records = crate::quarantine::with_bad_records;
    let (local, p) = (with_bad_records(), with_bad_records());
    let ledger = "SELECT source, file, size, hash FROM weir_files ORDER BY source, file";
    let rejected = "SELECT source, file, coalesce(line, -1), coalesce(record, ''), coalesce(field, ''), reason FROM weir_rejected ORDER BY source, file, coalesce(line, -1)";
    let on_cluster = |sql: &str| -> Vec<String> {
        // The ledger names a file `<folder>//<path>` on a shared warehouse.
        let sql = sql.replacen(" file,", " replaceRegexpOne(file, '^.*//', '') AS file,", 1);
        cluster
            .query("weir", &format!("{sql} FORMAT TabSeparated"))
            .lines()
            .map(|l| l.replace('\t', "|"))
            .collect()
    };
    let change = |step: &str, p: &Project| match step {
        "the incident fixed" => {
            let yaml = p.read("raw_data/incidents/2026-10.yaml").replacen(
                "root_causes: [capacty]",
                "root_causes: [capacity]",
                1,
            );
            p.write("raw_data/incidents/2026-10.yaml", &yaml);
        }
        "a page gone" => {
            std::fs::remove_file(p.path("raw_data/pagerduty_services/page-0004.json")).unwrap();
        }
        _ => {}
    };
    for step in ["bad records", "the incident fixed", "a page gone"] {
        change(step, &local);
        change(step, &p);
        let args = ["run-etl", "--on-error", "quarantine"];
        let sqlite = local.weir(&args);
        let mut ch_args = vec!["--db", url.as_str()];
        ch_args.extend(args);
        let ch = p.weir(&ch_args);
        assert_eq!(ch.code, sqlite.code, "{step}: {}", ch.transcript());
        assert_eq!(
            on_cluster(ledger),
            local.sql("sqlite", ledger),
            "{step}: ledger"
        );
        let books = on_cluster(rejected);
        assert_eq!(
            books,
            local.sql("sqlite", rejected),
            "{step}: weir_rejected"
        );
        assert!(
            books.iter().any(|r| r.contains("services/page-0005.json")),
            "{step}: the bad page stays set aside: {books:#?}"
        );
        assert_eq!(
            books.iter().any(|r| r.contains("2026-10.yaml")),
            step == "bad records",
            "{step}: {books:#?}"
        );
        assert_same(&cluster.dump("weir"), &local.dump("warehouse.sqlite"), step);
    }
}

/// History tables (`history: true`) on the cluster, step by step as tests/cli/history.rs takes
/// SQLite through them: versions in and out of order, a version loaded late into its place, equal
/// versions in one batch and across loads, a re-run, `--full`, and a complete source's gone key
/// closing its last version and coming back. After every step every table, the history tables
/// among them, is the same as SQLite's.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn history_tables_on_the_cluster_read_as_on_sqlite() {
    use crate::history::{MAPPER, page, project};
    let cluster = Cluster::start();
    let plain = project(MAPPER);
    let complete = project(&format!("complete: true\n{MAPPER}"));
    type Step = (&'static str, &'static [(&'static str, &'static str, u32)]);
    let steps: [(&Project, &str, &[Step], &[&str]); 8] = [
        (
            &plain,
            "plain",
            &[
                ("3", &[("a", "resolved", 5)]),
                ("1", &[("a", "triggered", 1), ("b", "triggered", 3)]),
            ],
            &[],
        ),
        (&plain, "plain", &[("2", &[("a", "acknowledged", 2)])], &[]),
        (
            &plain,
            "plain",
            &[(
                "4",
                &[
                    ("a", "reopened", 5),
                    ("c", "x", 7),
                    ("c", "y", 7),
                    ("c", "z", 8),
                ],
            )],
            &[],
        ),
        (&plain, "plain", &[], &[]),
        (&plain, "plain", &[], &["--full"]),
        (
            &complete,
            "complete",
            &[("1", &[("a", "triggered", 1), ("b", "triggered", 2)])],
            &[],
        ),
        (
            &complete,
            "complete",
            &[("1", &[("a", "acknowledged", 4)])],
            &[],
        ),
        (
            &complete,
            "complete",
            &[("1", &[("a", "acknowledged", 4), ("b", "resolved", 6)])],
            &[],
        ),
    ];
    for (n, (p, db, pages, flags)) in steps.iter().enumerate() {
        for (name, records) in pages.iter() {
            page(p, name, records);
        }
        let args: Vec<&str> = ["run-etl"].iter().chain(flags.iter()).copied().collect();
        let sqlite = p.ok(&args);
        let url = cluster.url(db);
        let with_db: Vec<&str> = ["--db", url.as_str()]
            .iter()
            .chain(&args)
            .copied()
            .collect();
        let ch = p.ok(&with_db);
        let counts = |out| lines_with(out, &["loaded ", "removed"]);
        assert_eq!(counts(&ch), counts(&sqlite), "step {n}: {}", ch.stderr);
        let dump = cluster.dump(db);
        assert!(dump.contains("## t_history"), "{dump}");
        assert_same(&dump, &p.dump("warehouse.sqlite"), &format!("step {n}"));
    }
}

/// History on the cluster where it is hardest: integer versions beyond 2^53 (nanoseconds; 256
/// apart, as a Float64 holds them, see docs/CLICKHOUSE.md "Not yet"), a record without a version reopening a closed key, a gone key that held the newest version,
/// a two-column key, 30 000 records of one writer (two batches in one load, versions of a key
/// in both), and a close that a stopped load left undone (removal stored, version still open).
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn history_on_the_cluster_with_big_numbers_nulls_and_many_batches() {
    let cluster = Cluster::start();
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE n (id TEXT, part BIGINT, status TEXT, v BIGINT, PRIMARY KEY (id, part));",
    );
    p.write(
        "mappers/n.yaml",
        "table: n\nkey: [id, part]\nversion: v\nhistory: true\ncomplete: true\ncolumns:\n  \
         id: id\n  part: part\n  status: status\n  v: v\n",
    );
    std::fs::create_dir_all(p.path("raw_data/n")).unwrap();
    let url = cluster.url("numbers");
    let step = |n: usize| {
        let sqlite = p.ok(&["run-etl"]);
        let ch = p.ok(&["--db", &url, "run-etl"]);
        let counts = |out| lines_with(out, &["loaded ", "removed"]);
        assert_eq!(counts(&ch), counts(&sqlite), "step {n}: {}", ch.stderr);
        assert_same(
            &cluster.dump("numbers"),
            &p.dump("warehouse.sqlite"),
            &format!("step {n}"),
        );
    };
    let big = 1_767_225_600_000_000_000_i64;
    let line = |id: &str, part: i64, status: &str, v: Option<i64>| {
        let v = v.map_or("null".to_string(), |v| v.to_string());
        format!("{{\"id\": \"{id}\", \"part\": {part}, \"status\": \"{status}\", \"v\": {v}}}\n")
    };
    // Two versions in reverse order; `b` with the newest.
    p.write(
        "raw_data/n/1.jsonl",
        &[
            line("a", 1, "second", Some(big + 512)),
            line("a", 1, "first", Some(big + 256)),
            line("a", 2, "other part", Some(big)),
            line("b", 1, "newest", Some(big + 9 * 256)),
        ]
        .concat(),
    );
    step(1);
    // `b` goes: it held the newest version, so it closes at its own valid_from.
    p.write(
        "raw_data/n/1.jsonl",
        &[
            line("a", 1, "second", Some(big + 512)),
            line("a", 1, "first", Some(big + 256)),
            line("a", 2, "other part", Some(big)),
        ]
        .concat(),
    );
    step(2);
    // The close undone, as by a load stopped between its removal and the history's rows: the
    // next load closes it again.
    for port in &cluster.http {
        post(
            *port,
            "numbers",
            "INSERT INTO n_history__local SELECT id, part, status, v, valid_from, NULL, \
             _weir_deleted, _weir_vkind, _weir_vnum, _weir_vtext, _weir_load + 1, _weir_seq, \
             _weir_parent_load, _weir_parent_seq FROM n_history__local WHERE id = 'b'",
        );
    }
    assert!(cluster.dump("numbers") != p.dump("warehouse.sqlite"));
    p.write("raw_data/n/2.jsonl", &line("a", 3, "third part", Some(big)));
    step(3);
    // `b` back without a version: its last version opens again.
    p.write("raw_data/n/3.jsonl", &line("b", 1, "no version", None));
    step(4);
    // 30 000 records in one file: 6 000 keys, 5 versions each, spread over both batches.
    let mut many = String::new();
    for i in 0..30_000_i64 {
        let key = i % 6_000;
        let version = (i / 6_000 * 3 + key) % 5;
        many.push_str(&line(
            &format!("k{key}"),
            0,
            &format!("s{version}"),
            Some(big + 256 * version),
        ));
    }
    p.write("raw_data/n/4.jsonl", &many);
    step(5);
}

/// Data nobody here wrote: every response recorded from the four vendors' live APIs, saved bare
/// and in an envelope, loads into the cluster with the same rows as into SQLite.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn recorded_vendor_responses_load_into_the_cluster_as_into_sqlite() {
    let cluster = Cluster::start();
    for (i, wrap) in [false, true].into_iter().enumerate() {
        let p = Project::shipped();
        let expected = crate::bare_bodies::place_real(&p, wrap);
        assert!(expected.values().sum::<usize>() > 500, "{expected:?}");
        let sqlite = p.weir(&["run-etl"]);
        let url = cluster.url(&format!("real{i}"));
        let ch = p.weir(&["--db", &url, "run-etl"]);
        assert_eq!((ch.code, sqlite.code), (0, 0), "{}", ch.transcript());
        assert_same(
            &cluster.dump(&format!("real{i}")),
            &p.dump("warehouse.sqlite"),
            &format!("recorded responses, wrapped {wrap}"),
        );
    }
}

/// `tests/clickhouse/chdb_http.py`: ClickHouse's HTTP interface over chdb, the current
/// ClickHouse engine in-process (PyPI's chdb-core); stopped when dropped.
struct CurrentClickHouse {
    server: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for CurrentClickHouse {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

impl CurrentClickHouse {
    fn start() -> CurrentClickHouse {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let shim = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clickhouse/chdb_http.py");
        let server = Command::new("python3")
            .arg(shim)
            .arg(dir.path().join("data"))
            .arg(port.to_string())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(port);
        CurrentClickHouse {
            server,
            port,
            _dir: dir,
        }
    }
}

/// Every shipped report on the current ClickHouse (26.x, through chdb) over the tables weir's
/// DDL made: the same CSV, byte for byte, as SQLite's.
#[test]
#[ignore = "needs python3 with PyPI's chdb-core; .ci/run installs it and runs these"]
fn reports_on_a_current_clickhouse_read_as_on_sqlite() {
    let server = CurrentClickHouse::start();
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    p.ok(&["run-queries"]);
    let expected = p.reports();
    assert_eq!(expected.len(), 15);
    std::fs::remove_dir_all(p.path("output")).unwrap();
    let url = format!("http://127.0.0.1:{}/weir", server.port);
    p.ok(&["--db", &url, "run-etl"]);
    for (name, csv) in &expected {
        let out = p.weir(&["--db", &url, "run-queries", name]);
        assert_eq!(out.code, 0, "{name}: {}", out.transcript());
        let got = std::fs::read_to_string(p.path(&format!("output/{name}.csv"))).ok();
        assert_eq!(
            got.as_deref(),
            Some(csv.as_str()),
            "{name} differs from SQLite's"
        );
    }
}

/// The lines of weir's stderr that hold any of `words`: the counts two runs must agree on.
fn lines_with(out: &crate::harness::Output, words: &[&str]) -> Vec<String> {
    out.stderr
        .lines()
        .filter(|l| words.iter().any(|w| l.contains(w)))
        .map(str::to_string)
        .collect()
}
