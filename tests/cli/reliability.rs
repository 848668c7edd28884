//! Nothing lost, nothing half-written: SIGKILL at any moment, two weirs at once, hostile files,
//! and the machine refusing (a damaged database, a full disk, a file where a folder should be).

use std::io::Write;
use std::time::Duration;

use crate::harness::{Project, assert_same, engines};

/// The shipped project plus a source of `n` tickets in JSONL, big enough that a load takes a
/// while; every 7th ticket comes back later with an older version.
pub(crate) fn big(n: usize) -> Project {
    let p = Project::shipped();
    p.write(
        "schemas/90_tickets.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, body TEXT, fetched_at TEXT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
    );
    p.write(
        "mappers/tickets.yaml",
        "table: tickets
key: [id]
version: fetched_at
columns:
  id: id
  status: status
  body: body
  fetched_at: {from: at, type: timestamp}
children:
  - table: ticket_tags
    each: tags
    link: {ticket_id: id}
    columns:
      tag: .
",
    );
    std::fs::create_dir_all(p.path("raw_data/tickets")).unwrap();
    for part in 0..4 {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(p.path(&format!("raw_data/tickets/part-{part}.jsonl"))).unwrap(),
        );
        for i in (part..n).step_by(4) {
            let (id, at) = if i % 7 == 6 {
                (i - 3, "2026-01-01T00:00:00Z")
            } else {
                (i, "2026-06-01T00:00:00Z")
            };
            writeln!(
                f,
                r#"{{"id": "T{id}", "status": "s{}", "body": "{}", "at": "{at}", "tags": ["a{}", "b"]}}"#,
                i % 5,
                "x".repeat(i % 90),
                i % 3
            )
            .unwrap();
        }
    }
    p
}

#[test]
fn a_kill_at_any_moment_leaves_what_a_clean_run_gives() {
    for engine in engines() {
        let clean = big(60_000);
        clean.ok(&["--engine", engine, "run"]);
        let expected = clean.dump_engine(engine, &[]);
        let reports = clean.reports();

        let p = big(60_000);
        let mut killed = 0;
        for round in 0..24u64 {
            // Spread the kills over the load and the report export, a different moment each round.
            let mut child = p.spawn(&["--engine", engine, "run", "--full"]);
            std::thread::sleep(Duration::from_millis(20 + round * 37 % 700));
            if child.try_wait().unwrap().is_none() {
                killed += 1;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            // Whatever the moment, every report on disk is whole: an earlier run's or none.
            for (name, text) in p.reports() {
                let whole = reports.iter().find(|(n, _)| *n == name).unwrap();
                assert_eq!(&text, &whole.1, "{engine}: a half-written {name}");
            }
        }
        assert!(
            killed >= 12,
            "{engine}: only {killed} runs were still going when killed"
        );
        p.ok(&["--engine", engine, "run"]);
        assert_same(
            &p.dump_engine(engine, &[]),
            &expected,
            &format!("{engine}: the database after {killed} kills differs from a clean run"),
        );
        assert_eq!(p.reports(), reports, "{engine}");
        let hidden: Vec<String> = p
            .files("output")
            .into_iter()
            .filter(|f| f.starts_with('.'))
            .collect();
        assert!(hidden.len() <= 8, "{hidden:?}");
    }
}

#[test]
fn a_second_writer_waits_or_names_the_first() {
    let p = Project::shipped();
    p.ok(&["initialize"]);
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p.path("warehouse.sqlite.lock"))
        .unwrap();
    lock.lock().unwrap();
    // A live pid (this test's own) as the holder.
    let pid = std::process::id();
    std::fs::write(
        p.path("warehouse.sqlite.lock"),
        format!("pid {pid} (weir run-etl)"),
    )
    .unwrap();

    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        format!(
            "error: warehouse.sqlite.lock: the database is in use by pid {pid} (weir run-etl)\n  \
             hint: let it finish, or pass `--wait SECONDS` to wait for it\n"
        )
    );
    let out = p.weir(&["run-queries"]);
    assert_eq!(out.code, 1, "readers wait for a writer: {}", out.stderr);

    // Waiting: the holder lets go after a moment and the second run goes on.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        drop(lock);
    });
    let out = p.weir(&["--wait", "30", "run-etl"]);
    release.join().unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "waiting for pid {pid} (weir run-etl), which is using the database"
        )),
        "{}",
        out.stderr
    );

    // Readers share: a report runs while another reader holds the lock, a writer does not.
    let reader = std::fs::File::open(p.path("warehouse.sqlite.lock")).unwrap();
    reader.lock_shared().unwrap();
    p.ok(&["run-queries"]);
    let out = p.weir(&["--wait", "0.3", "run-etl"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the database is in use by another weir reading it (waited 0.3 s)"),
        "{}",
        out.stderr
    );

    // extract and run-etl do not interleave on raw_data/ either.
    let raw = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p.path("raw_data/.weir.lock"))
        .unwrap();
    raw.lock().unwrap();
    drop(reader);
    let out = p.weir(&["run-etl"]);
    assert!(
        out.stderr.contains("raw_data/ is in use by"),
        "{}",
        out.stderr
    );
}

/// Every file under the project folder with its bytes, leaving out what any run may create
/// (the database, its lock and journal, raw_data/'s lock).
fn contents(p: &Project) -> Vec<(String, Vec<u8>)> {
    p.files("")
        .into_iter()
        .filter(|f| !f.starts_with("warehouse.sqlite") && f != "raw_data/.weir.lock")
        .map(|f| {
            let bytes = std::fs::read(p.path(&f)).unwrap();
            (f, bytes)
        })
        .collect()
}

#[test]
fn names_cannot_leave_their_folders() {
    let p = Project::shipped();
    // One step up from the project folder is outside it: a report name reaching there must not
    // write there.
    let escape = format!(
        "{}-escape",
        p.dir.path().file_name().unwrap().to_string_lossy()
    );
    let outside = p.dir.path().parent().unwrap().join(&escape);
    let up = format!("../../{escape}");
    let up_message = format!("no report `{up}`");
    // run-queries needs a database to refuse names in.
    p.ok(&["initialize"]);
    let before = contents(&p);
    for (args, message, hint) in [
        (
            &["run-etl", "../schemas"][..],
            "no source `../schemas`",
            "the sources are the folders in raw_data/",
        ),
        (&["run-etl", "/etc"], "no source `/etc`", "the sources are"),
        (
            &["run-etl", "../raw_data/incidents"],
            "no source `../raw_data/incidents`",
            "the sources are",
        ),
        (
            &["run-queries", "../mappers/incidents"],
            "no report `../mappers/incidents`",
            "the reports are: ",
        ),
        // The file exists by that path, yet a report is only a name in queries/.
        (
            &["run-queries", "../queries/incident_monthly"],
            "no report `../queries/incident_monthly`",
            "the reports are: ",
        ),
        (
            &["run-queries", up.as_str()],
            up_message.as_str(),
            "the reports are: ",
        ),
        (
            &["run-queries", "--format", "json", "/tmp/x"],
            "no report `/tmp/x`",
            "the reports are: ",
        ),
    ] {
        let out = p.weir(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        let mut lines = out.stderr.lines();
        let first = lines.next().unwrap_or_default();
        assert!(
            first.starts_with("error: ") && first.ends_with(message),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            lines
                .next()
                .is_some_and(|l| l.contains("hint: ") && l.contains(hint)),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(p.files("output").is_empty(), "{:?}", p.files("output"));
    for ext in ["csv", "json"] {
        assert!(
            !outside.with_extension(ext).exists(),
            "{}",
            outside.display()
        );
    }
    assert!(
        contents(&p) == before,
        "a file in the project folder changed or appeared"
    );
}

#[test]
fn a_report_cannot_change_data() {
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run-etl"]);
        // Past the one-statement check, the connection itself refuses to write.
        p.write("queries/sneaky.sql", "WITH x AS (SELECT 1) SELECT * FROM x");
        p.ok(&["--engine", engine, "run-queries", "sneaky"]);
        for sql in [
            "DELETE FROM incidents",
            "SELECT 1; DROP TABLE incidents",
            "WITH d AS (DELETE FROM incidents RETURNING *) SELECT * FROM d",
        ] {
            p.write("queries/sneaky.sql", sql);
            let out = p.weir(&["--engine", engine, "run-queries", "sneaky"]);
            assert_eq!(out.code, 1, "{engine} {sql}: {}", out.stderr);
        }
        assert_eq!(p.sql(engine, "SELECT count(*) FROM incidents"), ["41"]);
    }
}

/// DuckDB's dollar quotes once hid a second statement from weir's own scanner; now the engines'
/// parsers decide, in a file and in memory alike, and nothing a refused report tries happens.
#[test]
fn a_report_cannot_hide_a_write() {
    let sneaky = [
        "SELECT $$'$$; DELETE FROM incidents",
        "SELECT $x$'$x$; DELETE FROM incidents; SELECT 1",
        "SELECT $$ -- $$; DELETE FROM incidents",
        "INSERT INTO incidents (incident_name) VALUES ('x')",
        "CREATE TABLE extra (x INTEGER)",
        "ATTACH 'attached.db' AS other",
        "COPY (SELECT 1) TO 'copied.csv'",
        "PRAGMA user_version = 3",
    ];
    for engine in engines() {
        let p = Project::shipped();
        p.ok(&["--engine", engine, "run-etl"]);
        for sql in sneaky {
            p.write("queries/sneaky.sql", sql);
            let out = p.weir(&["--engine", engine, "run-queries", "sneaky"]);
            assert_eq!(out.code, 1, "{engine} {sql}: {}", out.transcript());
            assert!(
                out.stderr.starts_with("error: queries/sneaky.sql"),
                "{engine} {sql}: {}",
                out.stderr
            );
            // In memory, `run` loads and reports in one process: the report is refused there too.
            let out = p.weir(&["--engine", engine, "--in-memory", "run"]);
            assert_eq!(
                out.code,
                1,
                "{engine} --in-memory {sql}: {}",
                out.transcript()
            );
            assert!(
                out.stderr.contains("error: queries/sneaky.sql"),
                "{engine} {sql}: {}",
                out.stderr
            );
            // SQLite reads `$$` as a parameter and knows no COPY: a syntax error refuses those.
            if engine == "duckdb" || !(sql.contains('$') || sql.starts_with("COPY")) {
                assert!(
                    out.stderr.contains("must only read"),
                    "{engine} {sql}: {}",
                    out.stderr
                );
            }
        }
        assert_eq!(p.sql(engine, "SELECT count(*) FROM incidents"), ["41"]);
        for file in ["attached.db", "copied.csv", "output/sneaky.csv"] {
            assert!(!p.path(file).exists(), "{engine}: {file} was written");
        }
    }
}

#[test]
fn hostile_files_get_a_clear_error_never_a_crash() {
    let p = Project::shipped();
    let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    p.write("raw_data/pagerduty_teams/deep.json", &deep_json);
    let deep_yaml = format!("- {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
    p.write("raw_data/incidents/deep.yaml", &deep_yaml);
    p.write(
        "raw_data/incidents/bomb.yaml",
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n",
    );
    p.write("raw_data/sentry_teams/empty.json", "");
    // A folder named like a raw file is a folder: walked into, never read as a file.
    std::fs::create_dir_all(p.path("raw_data/sentry_teams/folder.json")).unwrap();
    std::os::unix::fs::symlink(
        p.path("raw_data/github_teams"),
        p.path("raw_data/github_teams/loop"),
    )
    .unwrap();
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    let stderr = out.stderr;
    for needle in [
        "raw_data/pagerduty_teams/deep.json:1:128: invalid JSON: recursion limit exceeded",
        "raw_data/incidents/deep.yaml:1:258: invalid YAML: recursion limit exceeded",
        "raw_data/incidents/bomb.yaml:2:",
        "alias",
        "raw_data/github_teams/loop: a symbolic link loops back to a folder above it",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("folder.json"), "{stderr}");

    // A single huge string is just data.
    let p = Project::shipped();
    let teams = p.read("raw_data/pagerduty_teams/page-0001.json").replacen(
        "\"Checkout, payment gateway and payouts\"",
        &format!("\"{}\"", "€".repeat(4_000_000)),
        1,
    );
    p.write("raw_data/pagerduty_teams/page-0001.json", &teams);
    p.write("raw_data/sentry_teams/empty.json", "");
    // The records of a page in a folder named `x.json` load like any other.
    std::fs::create_dir_all(p.path("raw_data/sentry_teams/folder.json")).unwrap();
    std::fs::rename(
        p.path("raw_data/sentry_teams/page-0003.json"),
        p.path("raw_data/sentry_teams/folder.json/page-0003.json"),
    )
    .unwrap();
    let out = p.ok(&["run-etl"]);
    assert!(!out.stderr.contains("folder.json"), "{}", out.stderr);
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT file FROM weir_files WHERE source = 'sentry_teams' ORDER BY file"
        ),
        [
            "raw_data/sentry_teams/empty.json",
            "raw_data/sentry_teams/folder.json/page-0003.json",
            "raw_data/sentry_teams/page-0001.json",
            "raw_data/sentry_teams/page-0002.json",
        ]
    );
    assert!(
        out.stderr
            .contains("warning: skipped `raw_data/sentry_teams/empty.json`: it is empty"),
        "{}",
        out.stderr
    );
    assert_eq!(
        p.sql(
            "sqlite",
            "SELECT length(description) FROM pagerduty_teams WHERE id = 'PTPAY01'"
        ),
        ["4000000"]
    );
}

#[test]
fn a_damaged_database_or_a_missing_folder_is_one_clear_line() {
    for engine in engines() {
        let p = Project::shipped();
        let db = format!("warehouse.{engine}");
        p.write(&db, &"this is not a database\n".repeat(500));
        let before = p.read(&db);
        let out = p.weir(&["--engine", engine, "run-etl"]);
        assert_eq!(out.code, 1, "{engine}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
        assert!(out.stderr.contains(&db), "{}", out.stderr);
        assert_eq!(
            p.read(&db),
            before,
            "{engine}: the damaged file was changed"
        );
    }
    // A file where output/ should be.
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    std::fs::remove_dir_all(p.path("output")).ok();
    p.write("output", "not a folder");
    let out = p.weir(&["run-queries"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("output"), "{}", out.stderr);
}

/// A full disk, a small tmpfs (root on Linux): the load fails with one line, exit 1, and the
/// database keeps what it had. `.ci/run` runs it when it runs as root.
#[test]
#[ignore = "needs root and a tmpfs mount: run by .ci/run as root"]
fn a_full_disk_loses_nothing() {
    let mount = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1200k", "tmpfs"])
        .arg(mount.path())
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "cannot mount a tmpfs at {} ({status:?}): run this test as root",
        mount.path().display()
    );
    let result = std::panic::catch_unwind(|| {
        let p = big(40_000);
        let db = mount.path().join("w.sqlite");
        let db = db.to_str().unwrap();
        p.ok(&["--db", db, "run-etl", "incidents"]);
        let before = p.sql_at(db, "SELECT count(*) FROM incidents");
        let out = p.weir(&["--db", db, "run-etl"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("full"), "{}", out.stderr);
        assert_eq!(p.sql_at(db, "SELECT count(*) FROM incidents"), before);
        assert_eq!(
            p.sql_at(db, "SELECT count(*) FROM weir_loads WHERE status = 'ok'"),
            ["1"]
        );
    });
    let _ = std::process::Command::new("umount")
        .arg(mount.path())
        .status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A lock file that names a writer which is gone (killed before it could clear the file), while
/// a reader holds the lock: the message does not blame the dead pid, and names a live one.
#[test]
fn a_dead_pid_in_the_lock_file_is_not_named() {
    let p = Project::shipped();
    p.ok(&["initialize"]);
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{dead}")).exists());
    let path = p.path("warehouse.sqlite.lock");
    std::fs::write(&path, format!("pid {dead} (weir run-etl)")).unwrap();
    let reader = std::fs::File::open(&path).unwrap();
    reader.lock_shared().unwrap();

    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: warehouse.sqlite.lock: the database is in use by another weir reading it\n  \
         hint: let it finish, or pass `--wait SECONDS` to wait for it\n"
    );

    let live = std::process::id();
    std::fs::write(&path, format!("pid {live} (weir run-etl)")).unwrap();
    let out = p.weir(&["run-etl"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "the database is in use by pid {live} (weir run-etl)\n"
        )),
        "{}",
        out.stderr
    );
    drop(reader);
}
