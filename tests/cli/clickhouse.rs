//! The ClickHouse engine against a real 2-shard cluster of `clickhouse-server` processes on
//! 127.0.0.1 (free ports, a temp folder each), started per test and stopped by pid when the test
//! ends, pass or fail. They need the server binary (Debian's `clickhouse-server`), so a plain
//! `cargo test` reports them ignored with the reason; `.ci/run` installs it and runs them.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Project, assert_same, without_history};

const NEEDS: &str =
    "needs clickhouse-server (Debian's package); .ci/run installs it and runs these";

/// The password of the user `weir` the cluster knows (the default user has none).
const PASSWORD: &str = "hunter2-not-for-output";

/// Two servers, one shard each, in one cluster `weir_test`; killed when dropped.
pub struct Cluster {
    servers: Vec<Child>,
    commands: Vec<(PathBuf, String)>,
    pub http: Vec<u16>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("WEIR_CLICKHOUSE_SERVER") {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/usr/bin"])
    {
        let p = Path::new(dir).join("clickhouse-server");
        if p.is_file() {
            return p;
        }
    }
    panic!("{NEEDS}");
}

impl Cluster {
    pub fn start() -> Cluster {
        let bin = server_binary();
        let dir = tempfile::tempdir().unwrap();
        let ports: Vec<(u16, u16, u16)> = (0..2)
            .map(|_| (free_port(), free_port(), free_port()))
            .collect();
        let remote: String = ports
            .iter()
            .map(|(_, tcp, _)| {
                format!(
                    "<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>"
                )
            })
            .collect();
        let mut servers = Vec::new();
        let mut commands = Vec::new();
        for (i, (http, tcp, inter)) in ports.iter().enumerate() {
            let d = dir.path().join(format!("shard{}", i + 1));
            for sub in ["data", "tmp", "user_files"] {
                std::fs::create_dir_all(d.join(sub)).unwrap();
            }
            let d = d.display();
            std::fs::write(
                format!("{d}/config.xml"),
                format!(
                    r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/server.err.log</errorlog></logger>
  <http_port>{http}</http_port><tcp_port>{tcp}</tcp_port><interserver_http_port>{inter}</interserver_http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path><tmp_path>{d}/tmp/</tmp_path><user_files_path>{d}/user_files/</user_files_path>
  <mark_cache_size>67108864</mark_cache_size><uncompressed_cache_size>67108864</uncompressed_cache_size>
  <users_config>{d}/users.xml</users_config><default_profile>default</default_profile>
  <default_database>default</default_database><timezone>UTC</timezone>
  <remote_servers><weir_test>{remote}</weir_test></remote_servers>
</yandex>"#
                ),
            )
            .unwrap();
            std::fs::write(
                format!("{d}/users.xml"),
                format!(
                    r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <weir><password>{PASSWORD}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></weir>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>"#
                ),
            )
            .unwrap();
            let config = format!("--config-file={d}/config.xml");
            servers.push(spawn(&bin, &config));
            commands.push((bin.clone(), config));
        }
        let cluster = Cluster {
            servers,
            commands,
            http: ports.iter().map(|p| p.0).collect(),
            _dir: dir,
        };
        for &port in &cluster.http {
            wait_for(port);
        }
        cluster
    }

    /// Kills shard `i` (0-based) with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        let _ = self.servers[i].kill();
        let _ = self.servers[i].wait();
    }

    /// Starts shard `i` again on its data.
    pub fn restart(&mut self, i: usize) {
        let (bin, config) = &self.commands[i];
        self.servers[i] = spawn(bin, config);
        wait_for(self.http[i]);
    }

    /// weir's `--db` for database `db` on the cluster.
    pub fn url(&self, db: &str) -> String {
        format!(
            "http://127.0.0.1:{}/{db}?cluster=weir_test&shards=127.0.0.1:{},127.0.0.1:{}",
            self.http[0], self.http[0], self.http[1]
        )
    }

    /// Runs `sql` on the first server; the answer as text.
    pub fn query(&self, db: &str, sql: &str) -> String {
        post(self.http[0], db, sql)
    }

    /// Every table of `db` (views weir makes), rows sorted, in the text of `Project::dump`.
    pub fn dump(&self, db: &str) -> String {
        let names = self.query(
            db,
            &format!(
                "SELECT name FROM system.tables WHERE database = '{db}' AND engine = 'View' AND name NOT LIKE 'weir\\_%' ORDER BY name FORMAT TabSeparated"
            ),
        );
        let mut out = String::new();
        for name in names.lines() {
            let body = self.query(
                db,
                &format!("SELECT * FROM `{name}` LIMIT 0 FORMAT JSONCompact"),
            );
            let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
            // ClickHouse 18 reads `ORDER BY 1` as a constant: the columns by name.
            let order: Vec<String> = meta["meta"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| format!("`{}` NULLS FIRST", m["name"].as_str().unwrap()))
                .collect();
            let body = self.query(
                db,
                &format!(
                    "SELECT * FROM `{name}` ORDER BY {} FORMAT JSONCompact",
                    order.join(", ")
                ),
            );
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
            let types: Vec<String> = parsed["meta"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["type"].as_str().unwrap().to_string())
                .collect();
            out.push_str(&format!("## {name}\n"));
            for row in parsed["data"].as_array().unwrap() {
                let cells: Vec<String> = row
                    .as_array()
                    .unwrap()
                    .iter()
                    .zip(&types)
                    .map(|(v, ty)| match v {
                        serde_json::Value::Null => "Null".to_string(),
                        serde_json::Value::String(s) => format!("{s:?}"),
                        serde_json::Value::Number(x) if ty.contains("Float") => {
                            format!("Real({:?})", x.as_f64().unwrap())
                        }
                        serde_json::Value::Number(x) => format!("Integer({x})"),
                        other => other.to_string(),
                    })
                    .collect();
                out.push_str(&cells.join(" | "));
                out.push('\n');
            }
        }
        out
    }
}

fn spawn(bin: &Path, config: &str) -> Child {
    Command::new(bin)
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ping(port) {
        assert!(
            Instant::now() < deadline,
            "clickhouse-server on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    use std::io::Write;
    let _ = s.write_all(b"GET /ping HTTP/1.0\r\n\r\n");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    answer.ends_with("Ok.\n")
}

fn post(port: u16, db: &str, sql: &str) -> String {
    let client = reqwest::blocking::Client::new();
    let response = client
        .post(format!(
            "http://127.0.0.1:{port}/?database={db}&output_format_json_quote_64bit_integers=0"
        ))
        .body(sql.to_string())
        .send()
        .unwrap();
    let ok = response.status().is_success();
    let text = response.text().unwrap();
    assert!(ok, "ClickHouse refused `{sql}`: {text}");
    text
}

/// The sample loads into the cluster with the same rows as into SQLite; a re-run reads nothing
/// again; `--full` reads everything again and leaves no duplicate or older version visible;
/// files in reverse order end the same.
#[test]
#[ignore = "needs clickhouse-server (Debian's package); .ci/run installs it and runs these"]
fn the_sample_loads_into_a_two_shard_cluster_as_into_sqlite() {
    let cluster = Cluster::start();
    let p = Project::shipped();
    p.ok(&["run-etl"]);
    let expected = without_history(&p.dump("warehouse.sqlite"));
    let url = cluster.url("weir");
    let first = p.ok(&["--db", &url, "run-etl"]);
    assert!(
        first
            .stderr
            .contains("history tables are not supported there yet"),
        "{}",
        first.stderr
    );
    let dump = without_history(&cluster.dump("weir"));
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
    assert_same(
        &without_history(&cluster.dump("weir")),
        &expected,
        "after a re-run",
    );

    let full = p.ok(&["--db", &url, "run-etl", "--full"]);
    assert!(
        full.stderr.contains("loaded pagerduty_incidents"),
        "{}",
        full.stderr
    );
    assert_same(
        &without_history(&cluster.dump("weir")),
        &expected,
        "after run-etl --full",
    );

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
        &without_history(&cluster.dump("reversed")),
        &without_history(&reversed.dump("warehouse.sqlite")),
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
    let expected = without_history(&clean.dump("warehouse.sqlite"));

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
        &without_history(&cluster.dump("weir")),
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
    let expected = without_history(&p.dump("warehouse.sqlite"));
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
        &without_history(&cluster.dump("weir")),
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
    let expected = without_history(&both.dump("warehouse.sqlite"));

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
        &without_history(&cluster.dump("weir")),
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
        let books = |out: &crate::harness::Output| {
            out.stderr
                .lines()
                .filter(|l| l.contains("superseded") || l.contains("removed"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(books(&ch), books(&sqlite), "step {step}: {}", ch.stderr);
        assert_same(
            &cluster.dump("weir"),
            &local.dump("warehouse.sqlite"),
            &format!("step {step}"),
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

/// The reports that do not yet read the same on a current ClickHouse, and why.
const NOT_YET: [(&str, &str); 1] = [(
    "pagerduty_status_history",
    "history tables are not kept on ClickHouse yet",
)];

/// Every shipped report on the current ClickHouse (26.x, through chdb) over the tables weir's
/// DDL made: the same CSV, byte for byte, as SQLite's, but for the few listed in NOT_YET, which
/// must still differ or fail (so this test says when one starts to work).
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
    let mut same = 0;
    for (name, csv) in &expected {
        let out = p.weir(&["--db", &url, "run-queries", name]);
        let got = std::fs::read_to_string(p.path(&format!("output/{name}.csv"))).ok();
        let equal = out.code == 0 && got.as_deref() == Some(csv.as_str());
        match NOT_YET.iter().find(|(n, _)| n == name) {
            Some((_, why)) => assert!(
                !equal,
                "{name} now reads as on SQLite ({why}): take it off NOT_YET"
            ),
            None => {
                assert_eq!(out.code, 0, "{name}: {}", out.transcript());
                assert_eq!(
                    got.as_deref(),
                    Some(csv.as_str()),
                    "{name} differs from SQLite's"
                );
                same += 1;
            }
        }
    }
    assert_eq!(same, expected.len() - NOT_YET.len());
}
