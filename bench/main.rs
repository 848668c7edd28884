//! The benchmark of docs/BENCHMARKS.md: generates PagerDuty-shaped incident pages, then times
//! weir's run-etl on both engines against the simplest correct loaders (serde_json + rusqlite
//! with cached statements; DuckDB's own `read_json`), re-runs, thread counts, report export
//! against `sqlite3 -csv`, and `weir run` on the shipped sample.
//!
//!     cargo run --release --example bench -- [RECORDS...]      (default: 100000 1000000)
//!     cargo run --release --example bench -- --generate DIR RECORDS   (the data only)
//!     cargo run --release --example bench -- --clickhouse [RECORDS...]  (the 2-shard cluster)
//!     cargo run --release --example bench -- --reports [INCIDENTS...]   (every report, timed)
//!
//! Prints a Markdown table. Data goes to $WEIR_BENCH_DIR (default: a temp folder), removed after.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};

mod clickhouse;
mod reports;
// The tests' cluster: only some of its helpers are needed here.
#[allow(dead_code)]
#[path = "../tests/cli/cluster.rs"]
mod cluster;

const PAGE: usize = 100;
const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn main() {
    // `--generate DIR RECORDS`: only write the data (for profiling).
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).is_some_and(|a| a == "--generate") {
        let n = args[3].replace('_', "").parse().expect("a record count");
        let bytes = generate(Path::new(&args[2]), n);
        println!("{n} records, {bytes} bytes in {}", args[2]);
        return;
    }
    let on_cluster = args.get(1).is_some_and(|a| a == "--clickhouse");
    let on_reports = args.get(1).is_some_and(|a| a == "--reports");
    let sizes: Vec<usize> = std::env::args()
        .skip(if on_cluster || on_reports { 2 } else { 1 })
        .map(|a| a.replace('_', "").parse().expect("sizes are record counts"))
        .collect();
    let sizes = match (sizes.is_empty(), on_reports) {
        (false, _) => sizes,
        (true, false) => vec![100_000, 1_000_000],
        (true, true) => vec![1_000_000],
    };
    let weir = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("weir");
    assert!(weir.is_file(), "build weir first: cargo build --release");
    let base = match std::env::var_os("WEIR_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };

    println!(
        "| measure | {} |",
        sizes
            .iter()
            .map(|n| format!("{n} {}", if on_reports { "incidents" } else { "records" }))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|{}", "---:|".repeat(sizes.len()));
    let mut rows = Rows::default();
    // Peak RSS per size and engine, for target 3 at the end (the cluster's, in its own mode).
    let mut peaks: Vec<(&str, usize, f64)> = Vec::new();
    // Load times per size and engine, for target 3 (linear to 10M).
    let mut times: Vec<(&str, usize, f64)> = Vec::new();
    let mut cluster_peaks = Vec::new();
    for &n in &sizes {
        let dir = base.path().join(format!("n{n}"));
        if on_cluster {
            clickhouse::measure(&weir, &dir, n, &mut rows, &mut cluster_peaks);
        } else if on_reports {
            reports::measure(&weir, &dir, n as u64, &mut rows);
        } else {
            measure(&weir, &dir, n, &mut rows, &mut peaks, &mut times);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
    for (name, values) in &rows.0 {
        println!("| {name} | {} |", values.join(" | "));
    }
    if on_reports {
        return;
    }
    if on_cluster {
        if let [(_, small), .., (_, big)] = cluster_peaks[..] {
            println!(
                "| target: weir's peak RSS into the cluster, largest / smallest size (<= 1.25) | {} |",
                verdict(
                    big / small <= 1.25,
                    format!("{big:.0} MB, {:.2} x", big / small)
                )
            );
        }
        return;
    }
    let at = |list: &[(&str, usize, f64)], engine: &str, n: usize| {
        list.iter().find(|p| p.0 == engine && p.1 == n).map(|p| p.2)
    };
    for (engine, bound) in [("SQLite", 50.0), ("DuckDB", 150.0)] {
        if let (Some(small), Some(big)) =
            (at(&peaks, engine, 100_000), at(&peaks, engine, 1_000_000))
        {
            let ratio = big / small;
            let name = format!(
                "target 1/2 ({engine}): peak RSS at 1M < {bound:.0} MB and <= 1.25 x at 100k"
            );
            println!(
                "| {name} | {} |",
                verdict(
                    big < bound && ratio <= 1.25,
                    format!("{big:.0} MB, {ratio:.2} x")
                )
            );
        }
    }
    for (engine, bound, memory) in [
        ("SQLite", 11.0, 50.0),
        ("DuckDB", 11.0, 160.0),
        ("DuckDB --full", 12.0, 160.0),
    ] {
        if let (Some(one), Some(ten)) = (
            at(&times, engine, 1_000_000),
            at(&times, engine, 10_000_000),
        ) {
            let peak = at(&peaks, engine, 10_000_000).unwrap_or(f64::NAN);
            println!(
                "| target 3 ({engine}): 10M / 1M time (<= {bound:.0}), peak RSS at 10M < {memory:.0} MB | {} |",
                verdict(
                    ten / one <= bound && peak < memory,
                    format!("{:.2} x, {peak:.0} MB", ten / one)
                )
            );
        }
    }
    println!();
    let sample = weir_run_sample(&weir, base.path());
    println!(
        "target 5: weir run on the shipped sample (fresh database, median of 5; < 50 ms): {}",
        verdict(sample < 0.05, format!("{:.0} ms", sample * 1000.0))
    );
    let help = weir_help(&weir);
    println!(
        "target 5: weir --help (median of 5; < 10 ms): {}",
        verdict(help < 0.01, format!("{:.1} ms", help * 1000.0))
    );
}

/// The figures of one size: `n` records generated in `dir`, loaded, re-run and exported.
fn measure(
    weir: &Path,
    dir: &Path,
    n: usize,
    rows: &mut Rows,
    peaks: &mut Vec<(&'static str, usize, f64)>,
    times: &mut Vec<(&'static str, usize, f64)>,
) {
    let bytes = generate(dir, n);
    let mb = bytes as f64 / 1e6;
    rows.add("raw JSON (MB)", format!("{mb:.0}"));
    let rate = |secs: f64| {
        format!(
            "{:.0} rec/s, {:.1} MB/s ({secs:.1} s)",
            n as f64 / secs,
            mb / secs
        )
    };

    let reference = time(|| reference_sqlite(dir));
    rows.add("reference loader, SQLite", rate(reference));
    let (sqlite, rss) = weir_etl(weir, dir, "sqlite", &[]);
    rows.add("weir run-etl, SQLite", rate(sqlite));
    rows.add("peak RSS, SQLite (MB)", format!("{rss:.0}"));
    peaks.push(("SQLite", n, rss));
    times.push(("SQLite", n, sqlite));
    rows.add(
        "target 1: reference / weir time (>= 2.0)",
        verdict(
            reference / sqlite >= 2.0,
            format!("{:.2}", reference / sqlite),
        ),
    );
    let (rerun, _) = weir_etl_again(weir, dir, "sqlite", &[]);
    rows.add(
        "round one: unchanged re-run / first load (< 5%)",
        verdict(
            rerun / sqlite < 0.05,
            format!("{:.1}% ({rerun:.2} s)", 100.0 * rerun / sqlite),
        ),
    );
    // From here, at 10M only what target 3 needs: DuckDB's first load and reload.
    if n >= 5_000_000 {
        duckdb_figures(weir, dir, n, &rate, rows, peaks, times);
        return;
    }
    let (one, _) = weir_etl(weir, dir, "sqlite", &["--jobs", "1"]);
    rows.add("weir run-etl, SQLite, --jobs 1", rate(one));
    rows.add(
        "--jobs 1 / default time (round one: > 1)",
        format!("{:.2}", one / sqlite),
    );

    let (csv, rows_out) = weir_csv(weir, dir);
    let sqlite3 = time(|| sqlite3_csv(dir));
    rows.add("run-queries CSV rows", rows_out.to_string());
    rows.add(
        "round one: sqlite3 -csv / weir time (>= 1)",
        verdict(
            sqlite3 / csv >= 1.0,
            format!("{:.2} ({csv:.2} s vs {sqlite3:.2} s)", sqlite3 / csv),
        ),
    );

    duckdb_figures(weir, dir, n, &rate, rows, peaks, times);

    // The mapper as shipped, with its history table: twice the writes of the reference loaders.
    std::fs::copy(
        Path::new(REPO).join("mappers/pagerduty_incidents.yaml"),
        dir.join("mappers/pagerduty_incidents.yaml"),
    )
    .unwrap();
    for engine in ["sqlite", "duckdb"] {
        initialize(weir, dir, engine);
        let (secs, ok, stderr) = run_etl(weir, dir, engine, &[]);
        // A failure is a figure too (DuckDB's history merge can run out of its memory limit).
        let cell = if ok {
            format!("{secs:.1} s, {:.0} MB", peak_memory(&stderr))
        } else {
            failed(secs, &stderr)
        };
        rows.add(
            &format!("with `history: true`, {engine}: run-etl, peak RSS"),
            cell,
        );
    }
}

/// DuckDB's figures of one size: its own `read_json` import, weir's first load, and a `--full`
/// reload over it.
fn duckdb_figures(
    weir: &Path,
    dir: &Path,
    n: usize,
    rate: &dyn Fn(f64) -> String,
    rows: &mut Rows,
    peaks: &mut Vec<(&'static str, usize, f64)>,
    times: &mut Vec<(&'static str, usize, f64)>,
) {
    let duck_ref = time(|| reference_duckdb(dir));
    rows.add("DuckDB read_json import", rate(duck_ref));
    let (duck, duck_rss) = weir_etl(weir, dir, "duckdb", &[]);
    rows.add("weir run-etl, DuckDB", rate(duck));
    rows.add("peak RSS, DuckDB (MB)", format!("{duck_rss:.0}"));
    peaks.push(("DuckDB", n, duck_rss));
    times.push(("DuckDB", n, duck));
    rows.add(
        "target 2: weir / read_json time (<= 1.2), RSS < 150 MB",
        verdict(
            duck / duck_ref <= 1.2 && duck_rss < 150.0,
            format!("{:.2}, {duck_rss:.0} MB", duck / duck_ref),
        ),
    );
    // A failed reload is a figure too (target 3 then fails), not the end of the bench.
    let (reload, ok, stderr) = run_etl(weir, dir, "duckdb", &["--full"]);
    let reload_rss = peak_memory(&stderr);
    if ok {
        rows.add("weir run-etl --full over it, DuckDB", rate(reload));
        rows.add("peak RSS, DuckDB --full (MB)", format!("{reload_rss:.0}"));
        times.push(("DuckDB --full", n, reload));
    } else {
        rows.add(
            "weir run-etl --full over it, DuckDB",
            failed(reload, &stderr),
        );
        rows.add("peak RSS, DuckDB --full (MB)", "-".into());
        times.push(("DuckDB --full", n, f64::NAN));
    }
    peaks.push(("DuckDB --full", n, reload_rss));
}

/// The cell of a run that failed: how long it ran and its error's first line.
fn failed(secs: f64, stderr: &str) -> String {
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or("failed");
    format!(
        "FAILED after {secs:.0} s: {}",
        error.chars().take(90).collect::<String>()
    )
}

/// The table of figures: a row per measure, a cell per size.
#[derive(Default)]
struct Rows(Vec<(String, Vec<String>)>);

impl Rows {
    fn add(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(value),
            None => self.0.push((name.to_string(), vec![value])),
        }
    }
}

/// A target's figure with PASS or FAIL beside it.
fn verdict(met: bool, figure: String) -> String {
    format!("{figure} {}", if met { "PASS" } else { "FAIL" })
}

fn time(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

/// A tiny deterministic generator (xorshift64*): the same data on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: [&str; 16] = [
    "database",
    "latency",
    "checkout",
    "timeout",
    "queue",
    "backlog",
    "certificate",
    "expired",
    "replica",
    "lag",
    "payments",
    "errors",
    "spike",
    "deploy",
    "rollback",
    "cache",
];

fn party(kind: &str, prefix: &str, i: u64, name: &str) -> Value {
    json!({
        "id": format!("{prefix}{i:05}"),
        "type": format!("{kind}_reference"),
        "summary": name,
        "self": format!("https://api.pagerduty.com/{kind}s/{prefix}{i:05}"),
        "html_url": format!("https://acme.pagerduty.com/{kind}s/{prefix}{i:05}"),
    })
}

/// Incident number `n`, as fetched at `minute` (a later fetch is further along).
fn incident(n: u64, stale: bool) -> Value {
    let mut r = Rng::new(n);
    let created = 1_767_225_600 + n * 37; // from 2026-01-01, 37 s apart
    let ts = |s: u64| jiff::Timestamp::from_second(s as i64).unwrap().to_string();
    let description: String = {
        let len = 20 + r.below(181) as usize;
        let mut s = String::new();
        while s.len() < len {
            s.push_str(WORDS[r.below(16) as usize]);
            s.push(' ');
        }
        s.truncate(len);
        s
    };
    let status = if stale {
        "triggered"
    } else {
        ["triggered", "acknowledged", "resolved"][r.below(3) as usize]
    };
    let service = r.below(40);
    let assignments: Vec<Value> = (0..1 + r.below(3))
        .map(|k| {
            let user = r.below(200) + k * 1000;
            json!({"at": ts(created + 60 * (k + 1)), "assignee": party("user", "PU", user, &format!("User {user}"))})
        })
        .collect();
    json!({
        "id": format!("Q{n:08}"),
        "type": "incident",
        "summary": format!("[#{n}] {}", &description[..description.len().min(40)]),
        "self": format!("https://api.pagerduty.com/incidents/Q{n:08}"),
        "html_url": format!("https://acme.pagerduty.com/incidents/Q{n:08}"),
        "incident_number": n,
        "title": format!("{} on service {service}", WORDS[r.below(16) as usize]),
        "description": description,
        "created_at": ts(created),
        "updated_at": ts(created + 600),
        "status": status,
        "incident_key": format!("key-{n}"),
        "service": party("service", "PS", service, &format!("Service {service}")),
        "assignments": assignments,
        "last_status_change_at": ts(created + 300),
        "last_status_change_by": party("service", "PS", service, &format!("Service {service}")),
        "first_trigger_log_entry": party("log_entry", "R", n, "Triggered"),
        "escalation_policy": party("escalation_policy", "PE", service % 8, "Default"),
        "teams": [party("team", "PT", service % 6, &format!("Team {}", service % 6))],
        "urgency": if r.below(4) == 0 { "low" } else { "high" },
        "priority": if r.below(2) == 0 { Value::Null } else { json!({"summary": format!("P{}", 1 + r.below(4))}) },
        "resolved_at": if status == "resolved" { Value::String(ts(created + 3600)) } else { Value::Null },
        "alert_counts": {"all": 1 + r.below(5), "triggered": 0, "resolved": 1},
    })
}

/// Writes `n` records as pages of 100 under dir/raw_data/pagerduty_incidents/, with the shipped
/// schemas and the incidents mapper. Every tenth page re-fetches 100 earlier incidents with an
/// older fetch time: 1 record in 10 re-appears later with an older version. Returns the bytes.
fn generate(dir: &Path, n: usize) -> u64 {
    let raw = dir.join("raw_data/pagerduty_incidents");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::create_dir_all(dir.join("mappers")).unwrap();
    std::fs::create_dir_all(dir.join("queries")).unwrap();
    copy_dir(&Path::new(REPO).join("schemas"), &dir.join("schemas"));
    // As the reference loaders write it: without the shipped mapper's history table (`measure`
    // times that on its own).
    let mapper =
        std::fs::read_to_string(Path::new(REPO).join("mappers/pagerduty_incidents.yaml")).unwrap();
    let plain: String = mapper
        .lines()
        .filter(|l| !l.starts_with("history:"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        plain.len() < mapper.len(),
        "the shipped mapper keeps history"
    );
    std::fs::write(dir.join("mappers/pagerduty_incidents.yaml"), plain).unwrap();
    std::fs::write(dir.join("queries/incident_assignments.sql"), REPORT).unwrap();
    let mut bytes = 0;
    let mut next = 0u64;
    let mut rng = Rng::new(7);
    for p in 0..n.div_ceil(PAGE) {
        let count = PAGE.min(n - p * PAGE);
        let stale = p % 10 == 9;
        let records: Vec<Value> = (0..count)
            .map(|_| {
                if stale {
                    incident(rng.below(next.max(1)), true)
                } else {
                    next += 1;
                    incident(next - 1, false)
                }
            })
            .collect();
        let fetched = if stale {
            "2026-01-01T00:00:00Z".to_string()
        } else {
            jiff::Timestamp::from_second(1_790_000_000 + p as i64)
                .unwrap()
                .to_string()
        };
        let page = json!({
            "weir_page": 1, "source": "pagerduty", "endpoint": "/incidents",
            "params": {"limit": PAGE, "offset": p * PAGE, "time_zone": "UTC"},
            "fetched_at": fetched, "context": {},
            "body": {"incidents": records, "limit": PAGE, "offset": p * PAGE, "more": true},
        });
        let path = raw.join(format!("page-{p:06}.json"));
        let mut w = BufWriter::new(std::fs::File::create(&path).unwrap());
        serde_json::to_writer(&mut w, &page).unwrap();
        w.flush().unwrap();
        bytes += std::fs::metadata(&path).unwrap().len();
    }
    bytes
}

const REPORT: &str = "SELECT i.id, i.title, i.status, i.created_at, i.service_name,
  a.user_id, a.user_name, a.assigned_at
FROM pagerduty_incidents i JOIN pagerduty_incident_assignments a ON a.incident_id = i.id
ORDER BY i.id, a.user_id
LIMIT 1000000";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        } else {
            copy_dir(&e.path(), &to.join(e.file_name()));
        }
    }
}

fn pages(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("raw_data/pagerduty_incidents"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn weir_cmd(weir: &Path, dir: &Path, engine: &str) -> Command {
    let mut c = Command::new(weir);
    c.args(["--root", dir.to_str().unwrap(), "--engine", engine]);
    c
}

fn remove_db(dir: &Path) {
    for f in [
        "warehouse.sqlite",
        "warehouse.sqlite-wal",
        "warehouse.sqlite-shm",
        "warehouse.duckdb",
        "warehouse.duckdb.wal",
        "reference.sqlite",
        "reference.duckdb",
    ] {
        let _ = std::fs::remove_file(dir.join(f));
    }
}

/// A fresh run-etl: seconds and peak RSS in MB.
fn weir_etl(weir: &Path, dir: &Path, engine: &str, extra: &[&str]) -> (f64, f64) {
    initialize(weir, dir, engine);
    weir_etl_again(weir, dir, engine, extra)
}

/// A fresh, empty database.
fn initialize(weir: &Path, dir: &Path, engine: &str) {
    remove_db(dir);
    let out = weir_cmd(weir, dir, engine)
        .arg("initialize")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn weir_etl_again(weir: &Path, dir: &Path, engine: &str, extra: &[&str]) -> (f64, f64) {
    let (secs, ok, stderr) = run_etl(weir, dir, engine, extra);
    assert!(ok, "{stderr}");
    (secs, peak_memory(&stderr))
}

/// `weir -v run-etl` over the database as it is: seconds, success, and what it printed.
fn run_etl(weir: &Path, dir: &Path, engine: &str, extra: &[&str]) -> (f64, bool, String) {
    let start = Instant::now();
    let out = weir_cmd(weir, dir, engine)
        .args(["-v", "run-etl"])
        .args(extra)
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (secs, out.status.success(), stderr)
}

/// The peak RSS in MB that `run-etl -v` prints.
fn peak_memory(stderr: &str) -> f64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak memory "))
        .and_then(|l| l.trim_end_matches(" MB").parse().ok())
        .unwrap_or(f64::NAN)
}

/// run-queries on the SQLite database the last run-etl left: seconds and rows.
fn weir_csv(weir: &Path, dir: &Path) -> (f64, usize) {
    weir_etl(weir, dir, "sqlite", &[]);
    let start = Instant::now();
    let out = weir_cmd(weir, dir, "sqlite")
        .arg("run-queries")
        .output()
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read(dir.join("output/incident_assignments.csv")).unwrap();
    let rows = text.iter().filter(|&&b| b == b'\n').count() - 1;
    (secs, rows)
}

fn sqlite3_csv(dir: &Path) {
    let out = std::fs::File::create(dir.join("output/sqlite3.csv")).unwrap();
    let status = Command::new("sqlite3")
        .args([
            "-csv",
            "-header",
            dir.join("warehouse.sqlite").to_str().unwrap(),
            REPORT,
        ])
        .stdout(out)
        .status()
        .expect("sqlite3 is on the PATH");
    assert!(status.success());
}

/// The simplest correct SQLite loader: serde_json per file, cached statements, one
/// transaction, no version check (a later copy simply replaces an earlier one).
fn reference_sqlite(dir: &Path) {
    let db = dir.join("reference.sqlite");
    let _ = std::fs::remove_file(&db);
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    for f in std::fs::read_dir(dir.join("schemas")).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "sql") {
            conn.execute_batch(&std::fs::read_to_string(f).unwrap())
                .unwrap();
        }
    }
    let tx = conn.transaction().unwrap();
    {
        let mut incident = tx
            .prepare_cached(
                concat!(
                    "INSERT OR REPLACE INTO pagerduty_incidents (id, incident_number, title, status, ",
                    "urgency, priority, incident_key, service_id, service_name, escalation_policy_id, ",
                    "team_id, created_at, updated_at, last_status_change_at, last_status_change_by_id, ",
                    "last_status_change_by_type, resolved_at, alert_count, first_trigger_log_entry_id, ",
                    "html_url, fetched_at) ",
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
            )
            .unwrap();
        let mut assignment = tx
            .prepare_cached(concat!(
                "INSERT OR REPLACE INTO pagerduty_incident_assignments ",
                "(incident_id, user_id, user_name, assigned_at) VALUES (?, ?, ?, ?)"
            ))
            .unwrap();
        let s = |v: &Value| v.as_str().map(str::to_string);
        for path in pages(dir) {
            let page: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            let fetched = s(&page["fetched_at"]);
            for i in page["body"]["incidents"].as_array().unwrap() {
                incident
                    .execute(rusqlite::params![
                        s(&i["id"]),
                        i["incident_number"].as_i64(),
                        s(&i["title"]),
                        s(&i["status"]),
                        s(&i["urgency"]),
                        s(&i["priority"]["summary"]),
                        s(&i["incident_key"]),
                        s(&i["service"]["id"]),
                        s(&i["service"]["summary"]),
                        s(&i["escalation_policy"]["id"]),
                        s(&i["teams"][0]["id"]),
                        s(&i["created_at"]),
                        s(&i["updated_at"]),
                        s(&i["last_status_change_at"]),
                        s(&i["last_status_change_by"]["id"]),
                        s(&i["last_status_change_by"]["type"]),
                        s(&i["resolved_at"]),
                        i["alert_counts"]["all"].as_i64(),
                        s(&i["first_trigger_log_entry"]["id"]),
                        s(&i["html_url"]),
                        fetched,
                    ])
                    .unwrap();
                for a in i["assignments"].as_array().unwrap() {
                    assignment
                        .execute(rusqlite::params![
                            s(&i["id"]),
                            s(&a["assignee"]["id"]),
                            s(&a["assignee"]["summary"]),
                            s(&a["at"]),
                        ])
                        .unwrap();
                }
            }
        }
    }
    tx.commit().unwrap();
}

/// DuckDB's own import of the same records: read_json over every page, unnested into the
/// incidents and assignments tables.
fn reference_duckdb(dir: &Path) {
    let db = dir.join("reference.duckdb");
    let _ = std::fs::remove_file(&db);
    let conn = duckdb::Connection::open(&db).unwrap();
    let glob = dir.join("raw_data/pagerduty_incidents/*.json");
    let glob = glob.to_str().unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE incidents AS
           SELECT i.id, i.incident_number, i.title, i.status, i.urgency, i.priority.summary AS priority,
                  i.incident_key, i.service.id AS service_id, i.service.summary AS service_name,
                  i.escalation_policy.id AS escalation_policy_id, i.teams[1].id AS team_id,
                  i.created_at, i.updated_at, i.last_status_change_at,
                  i.last_status_change_by.id AS last_status_change_by_id,
                  i.last_status_change_by.type AS last_status_change_by_type, i.resolved_at,
                  i.alert_counts.all AS alert_count, i.first_trigger_log_entry.id AS first_trigger_log_entry_id,
                  i.html_url, fetched_at
           FROM (SELECT unnest(body.incidents) AS i, fetched_at FROM read_json('{glob}'));
         CREATE TABLE assignments AS
           SELECT i.id AS incident_id, a.assignee.id AS user_id, a.assignee.summary AS user_name,
             a.at AS assigned_at
           FROM (SELECT i, unnest(i.assignments) AS a
                 FROM (SELECT unnest(body.incidents) AS i FROM read_json('{glob}')));"
    ))
    .unwrap();
}

/// `weir --help`: the median of 5.
fn weir_help(weir: &Path) -> f64 {
    median_of_5(|| {
        let start = Instant::now();
        let out = Command::new(weir).arg("--help").output().unwrap();
        assert!(out.status.success());
        start.elapsed().as_secs_f64()
    })
}

/// The median of 5 timings taken by `run`.
fn median_of_5(mut run: impl FnMut() -> f64) -> f64 {
    let mut times: Vec<f64> = (0..5).map(|_| run()).collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

/// `weir run` on a copy of the shipped project, fresh database each time: the median of 5.
fn weir_run_sample(weir: &Path, base: &Path) -> f64 {
    let dir = base.join("sample");
    for f in ["schemas", "mappers", "queries", "raw_data", "checks"] {
        copy_dir(&Path::new(REPO).join(f), &dir.join(f));
    }
    // The sample's published WEIR_HASH_SECRET: its mappers pseudonymise.
    std::fs::copy(Path::new(REPO).join(".env"), dir.join(".env")).unwrap();
    median_of_5(|| {
        remove_db(&dir);
        let start = Instant::now();
        let out = Command::new(weir)
            .args(["--root", dir.to_str().unwrap(), "-q", "run"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        start.elapsed().as_secs_f64()
    })
}
