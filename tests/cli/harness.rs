//! One small builder: a project folder, a command line, the expected exit code.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The Monday after the sample's last pull (2026-11-20), as README's demo sets `WEIR_NOW`.
pub const SAMPLE_NOW: &str = "2026-11-23T12:00:00Z";

/// A weir project in a temp dir.
pub struct Project {
    pub dir: TempDir,
}

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Exit code, stdout and stderr as one text for a snapshot.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Copies what the repository ships: not the lock file a run in the work tree leaves in raw_data/.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_name() == ".weir.lock" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Project {
    /// An empty project folder.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::Builder::new()
                .prefix("weir-test")
                .tempdir()
                .unwrap(),
        }
    }

    /// The repository's own project: schemas, mappers, queries, checks and the shipped raw_data,
    /// judged by the sample's clock (`SAMPLE_NOW` in `.env`), so freshness and volume checks
    /// give the same results on any day.
    pub fn shipped() -> Project {
        let p = Project::empty();
        for folder in ["schemas", "mappers", "queries", "raw_data", "checks"] {
            copy_dir(&Path::new(REPO).join(folder), &p.path(folder));
        }
        p.sample_env();
        p.write(
            ".env",
            &format!("{}WEIR_NOW={SAMPLE_NOW}\n", p.read(".env")),
        );
        p
    }

    /// The sample project's `.env`: its published WEIR_HASH_SECRET, which the shipped mappers
    /// need to pseudonymise.
    pub fn sample_env(&self) {
        std::fs::copy(Path::new(REPO).join(".env"), self.path(".env")).unwrap();
    }

    /// The shipped schemas, mappers and queries with the raw data of `tests/fixtures/<case>/`
    /// (which may also override any of the other folders).
    pub fn fixture(case: &str) -> Project {
        let p = Project::empty();
        for folder in ["schemas", "mappers", "queries"] {
            copy_dir(&Path::new(REPO).join(folder), &p.path(folder));
        }
        p.sample_env();
        copy_dir(
            &Path::new(REPO).join("tests/fixtures").join(case),
            p.dir.path(),
        );
        std::fs::create_dir_all(p.path("raw_data")).unwrap();
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// Runs weir in the project folder with a cleared environment.
    pub fn weir(&self, args: &[&str]) -> Output {
        self.weir_env(args, &[])
    }

    pub fn weir_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        run_in(self.dir.path(), args, env)
    }

    /// Starts weir in the project folder without waiting for it (to kill it, say).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.spawn_env(args, &[])
    }

    pub fn spawn_env(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
        Command::new(weir_binary())
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Runs weir on a blocking thread, for async tests whose fake server must keep serving.
    pub async fn weir_async(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let dir = self.dir.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_in(&dir, &args, &env)
        })
        .await
        .unwrap()
    }

    /// Every file under `rel`, relative to it, sorted (hidden ones too).
    pub fn files(&self, rel: &str) -> Vec<String> {
        let mut out: Vec<String> = walk(&self.path(rel))
            .into_iter()
            .map(|p| {
                p.strip_prefix(self.path(rel))
                    .unwrap()
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        out.sort();
        out
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The weir binary under test: cargo's, unless `WEIR_TEST_BIN` names another (a target dir
/// shared by several work trees holds one `release/weir`, whichever built last).
fn weir_binary() -> std::ffi::OsString {
    std::env::var_os("WEIR_TEST_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_weir").into())
}

/// Runs the weir binary in `dir` with a cleared environment.
pub fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(weir_binary())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let root = dir.to_string_lossy().to_string();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "[ROOT]");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: clean(&out.stdout),
        stderr: clean(&out.stderr),
    }
}

/// Runs the weir binary in `dir` on a pseudo-terminal (util-linux `script`), as a person at a
/// terminal would: stdout and stderr both go to the terminal, and `stdout` is what it showed,
/// escape sequences and all.
pub fn run_in_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let bin = weir_binary();
    let mut line = quote(&bin.to_string_lossy());
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    let out = Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("util-linux `script` runs (Debian's bsdutils)");
    let root = dir.to_string_lossy().to_string();
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace(&root, "[ROOT]");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: clean(&out.stdout),
        stderr: clean(&out.stderr),
    }
}

impl Project {
    /// Runs weir on a pseudo-terminal (`run_in_terminal`).
    pub fn weir_terminal(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        run_in_terminal(self.dir.path(), args, env)
    }

    /// `weir_terminal` on a blocking thread, for async tests whose fake server must keep serving.
    pub async fn weir_terminal_async(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let dir = self.dir.path().to_path_buf();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            run_in_terminal(&dir, &args, &env)
        })
        .await
        .unwrap()
    }

    /// Runs weir and asserts the exit code, showing the output when it differs.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.weir(args);
        assert_eq!(out.code, 0, "weir {args:?} failed:\n{}", out.transcript());
        out
    }

    /// Every table of the SQLite database, rows sorted, as text: two databases with the same
    /// dump hold the same data.
    pub fn dump(&self, db: &str) -> String {
        self.dump_without(db, &[])
    }

    /// The dump of the default database of `engine` (`warehouse.sqlite` or `warehouse.duckdb`).
    pub fn dump_engine(&self, engine: &str, skip: &[&str]) -> String {
        match engine {
            "sqlite" => self.dump_without("warehouse.sqlite", skip),
            #[cfg(feature = "duckdb")]
            "duckdb" => self.dump_duckdb("warehouse.duckdb", skip),
            other => panic!("no engine {other} in this build"),
        }
    }

    /// `dump` of a DuckDB file, in the same text as SQLite's so the two can be compared.
    #[cfg(feature = "duckdb")]
    pub fn dump_duckdb(&self, db: &str, skip: &[&str]) -> String {
        let conn = duckdb::Connection::open(self.path(db)).unwrap();
        let mut names: Vec<String> = conn
            .prepare(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND table_name NOT LIKE 'weir\\_%' ESCAPE '\\' ORDER BY table_name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.sort();
        let mut out = String::new();
        for name in names {
            let cols: Vec<String> = conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{name}') ORDER BY cid"
                ))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .filter(|c| !skip.contains(&c.as_str()))
                .map(|c| format!("\"{c}\""))
                .collect();
            // NULLs first, as SQLite sorts them, so the two engines' dumps compare line by line.
            let order: Vec<String> = (1..=cols.len())
                .map(|i| format!("{i} NULLS FIRST"))
                .collect();
            let sql = format!(
                "SELECT {} FROM \"{name}\" ORDER BY {}",
                cols.join(", "),
                order.join(", ")
            );
            let mut stmt = conn.prepare(&sql).unwrap();
            out.push_str(&format!("## {name}\n"));
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let cells: Vec<String> = (0..cols.len())
                    .map(|i| match row.get_ref(i).unwrap() {
                        duckdb::types::ValueRef::Null => "Null".to_string(),
                        duckdb::types::ValueRef::Text(t) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        duckdb::types::ValueRef::BigInt(i) => format!("Integer({i})"),
                        // As rusqlite's `ValueRef::Real` prints: `10.0`, not `10`.
                        duckdb::types::ValueRef::Double(f) => format!("Real({f:?})"),
                        duckdb::types::ValueRef::Boolean(b) => format!("Integer({})", i64::from(b)),
                        other => format!("{other:?}"),
                    })
                    .collect();
                out.push_str(&cells.join(" | "));
                out.push('\n');
            }
        }
        out
    }

    /// The rows of `query` on the default database of `engine`, cells joined by `|` (NULL empty).
    pub fn sql(&self, engine: &str, query: &str) -> Vec<String> {
        match engine {
            "sqlite" => self.sql_at(self.path("warehouse.sqlite").to_str().unwrap(), query),
            #[cfg(feature = "duckdb")]
            "duckdb" => {
                let conn = duckdb::Connection::open(self.path("warehouse.duckdb")).unwrap();
                let mut stmt = conn.prepare(query).unwrap();
                let mut rows = stmt.query([]).unwrap();
                let n = rows.as_ref().unwrap().column_count();
                let mut out = Vec::new();
                while let Some(row) = rows.next().unwrap() {
                    let cells: Vec<String> = (0..n)
                        .map(|i| match row.get_ref(i).unwrap() {
                            duckdb::types::ValueRef::Null => String::new(),
                            duckdb::types::ValueRef::BigInt(i) => i.to_string(),
                            duckdb::types::ValueRef::HugeInt(i) => i.to_string(),
                            duckdb::types::ValueRef::Boolean(b) => i64::from(b).to_string(),
                            duckdb::types::ValueRef::Double(f) => f.to_string(),
                            duckdb::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            other => format!("{other:?}"),
                        })
                        .collect();
                    out.push(cells.join("|"));
                }
                out
            }
            other => panic!("no engine {other} in this build"),
        }
    }

    /// The rows of `query` on the SQLite database at `db`, as `sql` gives them.
    pub fn sql_at(&self, db: &str, query: &str) -> Vec<String> {
        let conn =
            rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        let mut stmt = conn.prepare(query).unwrap();
        let n = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        let mut out = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            let cells: Vec<String> = (0..n)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            out.push(cells.join("|"));
        }
        out
    }

    /// Sets the modification time of every raw file an hour back, as files on a disk that were
    /// written long before a load (the ledger trusts size and time only for such files).
    pub fn age_raw_files(&self) {
        let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for entry in walkdir::WalkDir::new(self.path("raw_data")) {
            let entry = entry.unwrap();
            if entry.file_type().is_file() {
                std::fs::File::options()
                    .write(true)
                    .open(entry.path())
                    .unwrap()
                    .set_modified(past)
                    .unwrap();
            }
        }
    }

    /// `dump` leaving out the named columns (provenance such as `source_file`).
    pub fn dump_without(&self, db: &str, skip: &[&str]) -> String {
        let conn = rusqlite::Connection::open_with_flags(
            self.path(db),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut names: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'weir\\_%' ESCAPE '\\' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        names.sort();
        let mut out = String::new();
        for name in names {
            let cols: Vec<String> = conn
                .prepare(&format!("SELECT * FROM \"{name}\""))
                .unwrap()
                .column_names()
                .filter(|c| !skip.contains(c))
                .map(|c| format!("\"{c}\""))
                .collect();
            // NULLs first, as SQLite sorts them, so the two engines' dumps compare line by line.
            let order: Vec<String> = (1..=cols.len())
                .map(|i| format!("{i} NULLS FIRST"))
                .collect();
            let sql = format!(
                "SELECT {} FROM \"{name}\" ORDER BY {}",
                cols.join(", "),
                order.join(", ")
            );
            let mut stmt = conn.prepare(&sql).unwrap();
            out.push_str(&format!("## {name}\n"));
            let mut rows = stmt.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                let cells: Vec<String> = (0..cols.len())
                    .map(|i| match row.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            format!("{:?}", String::from_utf8_lossy(t))
                        }
                        other => format!("{other:?}"),
                    })
                    .collect();
                out.push_str(&cells.join(" | "));
                out.push('\n');
            }
        }
        out
    }

    /// The CSV reports in output/, by name (none when there is no output/ yet).
    pub fn reports(&self) -> Vec<(String, String)> {
        let Ok(entries) = std::fs::read_dir(self.path("output")) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "csv"))
            .map(|p| {
                (
                    p.file_stem().unwrap().to_string_lossy().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        out.sort();
        out
    }

    /// Renames the raw files of every source so that name order is reversed.
    pub fn reverse_file_order(&self) {
        for source in std::fs::read_dir(self.path("raw_data")).unwrap() {
            let dir = source.unwrap().path();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            let n = files.len();
            for (i, f) in files.iter().enumerate() {
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                std::fs::rename(f, dir.join(format!("{:04}-{name}", n - i))).unwrap();
            }
        }
    }
}

/// The engines this build of weir has. Tests that compare engines are ignored without DuckDB
/// (`#[cfg_attr(not(feature = "duckdb"), ignore = …)]`); the rest say they skip it.
pub fn engines() -> Vec<&'static str> {
    if cfg!(feature = "duckdb") {
        vec!["sqlite", "duckdb"]
    } else {
        eprintln!("note: this build has no DuckDB: the test runs on SQLite only");
        vec!["sqlite"]
    }
}

/// A dump without its history tables (`## <table>_history` sections).
pub fn without_history(dump: &str) -> String {
    let mut out = String::new();
    let mut keep = true;
    for line in dump.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            keep = !name.ends_with("_history");
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Asserts two dumps are equal, showing only the first lines that differ.
pub fn assert_same(actual: &str, expected: &str, what: &str) {
    if actual != expected {
        let diff: Vec<String> = actual
            .lines()
            .zip(expected.lines())
            .filter(|(a, e)| a != e)
            .take(5)
            .map(|(a, e)| format!("  got:      {a}\n  expected: {e}"))
            .collect();
        panic!(
            "{what} ({} lines vs {} expected):\n{}",
            actual.lines().count(),
            expected.lines().count(),
            diff.join("\n")
        );
    }
}
