//! The cluster's figures (issue 18): the generated sets into a 2-shard cluster of Debian's
//! `clickhouse-server` on 127.0.0.1 (the cluster of the tests, `tests/cli/cluster.rs`), next to
//! weir's SQLite and DuckDB loads of the same files and to `clickhouse-client` inserting the same
//! rows as prepared JSONEachRow.
//!
//!     cargo run --release --example bench -- --clickhouse [RECORDS...]
//!
//! The incidents mapper is used without its `history: true` on every engine here, as when the
//! figures in docs/BENCHMARKS.md were measured (before ClickHouse kept history tables). Per size, a fresh cluster with `system.query_log` on:
//! 1. `weir initialize` + the timed `weir -v run-etl` into database `bench` (weir's wall time and
//!    VmHWM), then each server's VmHWM, and from the first server's query log the time its
//!    INSERTs took (the cluster side of weir's load: each insert returns once both shards have
//!    their rows) and the time of weir's other queries (the stored winners it reads per batch).
//! 2. The floor: every `__local` table is exported from both shards as JSONEachRow, truncated,
//!    and inserted again through its `__all` table by `clickhouse-client`, one process per table
//!    with `insert_distributed_sync=1`: the same rows on the same path, without weir.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cluster::Cluster;
use crate::{Rows, generate, peak_memory, verdict, weir_etl};

const DB: &str = "bench";

/// One size's figures into `rows`; the peak RSS of weir's cluster load into `peaks`.
pub fn measure(weir: &Path, dir: &Path, n: usize, rows: &mut Rows, peaks: &mut Vec<(usize, f64)>) {
    let bytes = generate(dir, n);
    // `generate` leaves out the shipped mapper's history table, as when the recorded figures
    // were measured.
    let mb = bytes as f64 / 1e6;
    rows.add("raw JSON (MB)", format!("{mb:.0}"));
    let rate = |secs: f64| format!("{:.0} rec/s ({secs:.1} s)", n as f64 / secs);

    let (sqlite, sqlite_rss) = weir_etl(weir, dir, "sqlite", &[]);
    rows.add("weir run-etl, SQLite", rate(sqlite));
    rows.add("peak RSS, weir, SQLite (MB)", format!("{sqlite_rss:.0}"));
    let (duck, duck_rss) = weir_etl(weir, dir, "duckdb", &[]);
    rows.add("weir run-etl, DuckDB", rate(duck));
    rows.add("peak RSS, weir, DuckDB (MB)", format!("{duck_rss:.0}"));

    let cluster = Cluster::start_with(true);
    let url = cluster.url(DB);
    run(weir, dir, &url, &["initialize"]);
    let (inserts_before, inserts_count_before) = logged(&cluster, "INSERT");
    let (reads_before, reads_count_before) = logged(&cluster, "SELECT");
    let start = Instant::now();
    let stderr = run(weir, dir, &url, &["-v", "run-etl"]);
    let ch = start.elapsed().as_secs_f64();
    let rss = peak_memory(&stderr);
    peaks.push((n, rss));
    rows.add("weir run-etl, 2-shard ClickHouse", rate(ch));
    rows.add("peak RSS, weir, ClickHouse (MB)", format!("{rss:.0}"));
    rows.add(
        "peak RSS, each server, after weir's load (MB)",
        servers_rss(&cluster),
    );
    // The run-etl's queries only, not initialize's.
    let (weir_inserts, weir_count) = logged(&cluster, "INSERT");
    let (weir_inserts, weir_count) = (
        weir_inserts - inserts_before,
        weir_count - inserts_count_before,
    );
    let (weir_reads, reads_count) = logged(&cluster, "SELECT");
    let (weir_reads, reads_count) = (weir_reads - reads_before, reads_count - reads_count_before);
    rows.add(
        "cluster side: weir's INSERTs (query log)",
        format!("{weir_inserts:.1} s in {weir_count}"),
    );
    rows.add(
        "cluster side: weir's reads (stored winners, ledger; query log)",
        format!("{weir_reads:.1} s in {reads_count}"),
    );
    rows.add(
        "target: ClickHouse / SQLite load time (<= 1.3)",
        verdict(ch / sqlite <= 1.3, format!("{:.2}", ch / sqlite)),
    );

    // The floor: the rows weir stored, inserted again by clickhouse-client.
    let tables = cluster.query(
        DB,
        &format!(
            "SELECT name FROM system.tables WHERE database = '{DB}' AND name LIKE '%\\_\\_local' ORDER BY name FORMAT TabSeparated"
        ),
    );
    let tables: Vec<&str> = tables.lines().collect();
    let exported = dir.join("exported");
    std::fs::create_dir_all(&exported).unwrap();
    let mut stored = 0u64;
    let mut filled = Vec::new();
    for table in &tables {
        let file = exported.join(format!("{table}.json"));
        let out = std::fs::File::create(&file).unwrap();
        for &port in &cluster.tcp {
            let mut o = out.try_clone().unwrap();
            let mut child = client(port)
                .arg(format!(
                    "--query=SELECT * FROM {DB}.{table} FORMAT JSONEachRow"
                ))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            std::io::copy(child.stdout.as_mut().unwrap(), &mut o).unwrap();
            assert!(child.wait().unwrap().success(), "export of {table} failed");
        }
        for &port in &cluster.http {
            crate::cluster::post(port, DB, &format!("TRUNCATE TABLE {DB}.{table}"));
        }
        let lines = std::fs::read(&file)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64;
        if lines > 0 {
            filled.push(*table);
        }
        stored += lines;
    }
    rows.add(
        "rows weir stored (all tables, both shards)",
        stored.to_string(),
    );
    let (before, before_count) = logged(&cluster, "INSERT");
    let start = Instant::now();
    for table in &filled {
        let all = table.trim_end_matches("__local").to_string() + "__all";
        let status = client(cluster.tcp[0])
            .args([
                "--insert_distributed_sync=1",
                &format!("--query=INSERT INTO {DB}.{all} FORMAT JSONEachRow"),
            ])
            .stdin(std::fs::File::open(exported.join(format!("{table}.json"))).unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "clickhouse-client refused {all}");
    }
    let wall = start.elapsed().as_secs_f64();
    let (after, after_count) = logged(&cluster, "INSERT");
    let floor = after - before;
    rows.add(
        "clickhouse-client, the same rows as JSONEachRow",
        format!(
            "{wall:.1} s wall; {floor:.1} s in {} INSERTs (query log)",
            after_count - before_count
        ),
    );
    rows.add(
        "target: weir's INSERTs / client's, cluster side (<= 2)",
        verdict(
            weir_inserts / floor <= 2.0,
            format!("{:.2}", weir_inserts / floor),
        ),
    );
    rows.add(
        "peak RSS, each server, at the end (MB)",
        servers_rss(&cluster),
    );
    std::fs::remove_dir_all(&exported).unwrap();
}

/// `weir --root dir --db url ARGS`, which must succeed; its stderr.
fn run(weir: &Path, dir: &Path, url: &str, args: &[&str]) -> String {
    let out = Command::new(weir)
        .args(["--root", dir.to_str().unwrap(), "--db", url])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "weir {args:?}: {stderr}");
    stderr
}

fn client(port: u16) -> Command {
    let mut c = Command::new("clickhouse-client");
    c.args(["--host=127.0.0.1", &format!("--port={port}")]);
    c
}

/// Seconds and number of the finished initial queries of `kind` (`INSERT`, `SELECT`) in the
/// first server's query log, so far.
fn logged(cluster: &Cluster, kind: &str) -> (f64, u64) {
    cluster.query(DB, "SYSTEM FLUSH LOGS");
    let answer = cluster.query(
        DB,
        &format!(
            "SELECT sum(query_duration_ms), count() FROM system.query_log WHERE type = 2 AND is_initial_query AND query NOT LIKE '%system.%' AND upper(query) LIKE '{kind}%' FORMAT TabSeparated"
        ),
    );
    let mut parts = answer.split_whitespace();
    let ms: f64 = parts.next().unwrap().parse().unwrap();
    let count = parts.next().unwrap().parse().unwrap();
    (ms / 1000.0, count)
}

/// Each server's peak RSS in MB, `a / b`.
fn servers_rss(cluster: &Cluster) -> String {
    let each: Vec<String> = cluster
        .pids()
        .iter()
        .map(|&pid| format!("{:.0}", vm_hwm(pid)))
        .collect();
    each.join(" / ")
}

/// A process's peak resident memory (VmHWM) in MB.
fn vm_hwm(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|l| l.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}
