//! Flags + project folder + environment (+ `.env` in the project folder) -> one `Settings`.
//! Precedence: flag, then the process environment, then `.env`, then the default.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::cli::GlobalArgs;
use crate::engine::Kind;
use crate::engine::clickhouse::server::{self, Server};
use crate::error::{Diagnostic, Error, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

#[derive(Clone)]
pub struct Settings {
    pub root: PathBuf,
    /// `None` keeps the database in memory (or it is a server, `server`).
    pub db: Option<PathBuf>,
    /// A ClickHouse warehouse: `--db` was a URL.
    pub server: Option<Server>,
    pub engine: Kind,
    pub verbosity: Verbosity,
    /// How long to wait for another weir's lock.
    pub wait: std::time::Duration,
    /// Bytes DuckDB may use while loading into a file (`WEIR_DUCKDB_MEMORY`); `None` lets weir
    /// size it from the widest table the load writes.
    pub duckdb_memory: Option<u64>,
    env: HashMap<String, String>,
}

/// `.env` holds tokens and WEIR_HASH_SECRET: a printed Settings names its keys, never a value.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut keys: Vec<&String> = self.env.keys().collect();
        keys.sort();
        f.debug_struct("Settings")
            .field("root", &self.root)
            .field("db", &self.db)
            .field("server", &self.server)
            .field("engine", &self.engine)
            .field("verbosity", &self.verbosity)
            .field("wait", &self.wait)
            .field("duckdb_memory", &self.duckdb_memory)
            .field("env_keys", &keys)
            .finish()
    }
}

impl Settings {
    pub fn resolve(args: &GlobalArgs) -> Result<Settings, Error> {
        let root = project_root(args)?;
        let env = read_dotenv(&root)?;
        let mut settings = Settings {
            root,
            db: None,
            server: None,
            engine: Kind::Sqlite,
            verbosity: Verbosity::Normal,
            wait: args.wait,
            duckdb_memory: None,
            env,
        };
        settings.verbosity = if args.quiet {
            Verbosity::Quiet
        } else if args.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let named = match &args.engine {
            Some(e) => Some(e.clone()),
            None => settings.var("WEIR_ENGINE"),
        };
        let explicit_db = args.db.clone().or_else(|| {
            settings
                .var("WEIR_DB")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        let url = explicit_db
            .as_deref()
            .and_then(|p| p.to_str())
            .filter(|p| server::is_url(p))
            .map(String::from);
        if let Some(url) = url {
            settings.engine = match named.as_deref().map(Kind::parse) {
                None | Some(Some(Kind::ClickHouse)) => Kind::ClickHouse,
                Some(_) => {
                    return Err(Error::problem(
                        Diagnostic::new(format!(
                            "`{}` is a server's URL, which only the clickhouse engine reads",
                            server::redact(&url)
                        ))
                        .field("WEIR_ENGINE")
                        .hint("use `--engine clickhouse`, or pass a database file as `--db PATH`"),
                    ));
                }
            };
            let user = settings.var("CLICKHOUSE_USER");
            let password = settings.var("CLICKHOUSE_PASSWORD");
            settings.server = Some(Server::parse(&url, user, password).map_err(|why| {
                Error::problem(
                    Diagnostic::new(format!(
                        "`{}` is not a ClickHouse URL: {why}",
                        server::redact(&url)
                    ))
                    .field("WEIR_DB")
                    .hint("write `http://HOST:8123/DATABASE` (or https://, clickhouse://), with `?cluster=NAME` for a cluster"),
                )
            })?);
            return Ok(settings);
        }
        settings.engine = engine_kind(named, explicit_db.as_deref())?;
        if settings.engine == Kind::ClickHouse {
            return Err(Error::problem(
                Diagnostic::new("the clickhouse engine needs the server's URL as `--db`")
                    .field("WEIR_DB")
                    .hint("pass `--db http://HOST:8123/DATABASE` (with `?cluster=NAME` for a cluster), or set WEIR_DB"),
            ));
        }
        if let Some(size) = settings.var("WEIR_DUCKDB_MEMORY") {
            settings.duckdb_memory = Some(duckdb_memory(&size)?);
        }
        let memory = args.in_memory
            || settings
                .var("DB_MODE")
                .is_some_and(|m| m.eq_ignore_ascii_case("memory"));
        settings.db = if memory && args.db.is_none() {
            None
        } else {
            // One rule however it is named (flag, environment, .env): a relative path is in the
            // project folder, not the working directory.
            let db = explicit_db.unwrap_or_else(|| {
                PathBuf::from(format!("warehouse.{}", settings.engine.extension()))
            });
            Some(settings.root.join(db))
        };
        Ok(settings)
    }

    /// Whether nothing is kept: no database file and no server.
    pub fn in_memory(&self) -> bool {
        self.db.is_none() && self.server.is_none()
    }

    /// A variable from the process environment, else from `.env`.
    pub fn var(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.env.get(name).cloned())
    }

    /// The time now: `WEIR_NOW` from the environment or `.env` when set, else the clock.
    pub fn now(&self) -> Result<jiff::Timestamp, Error> {
        clock(self.var("WEIR_NOW").as_deref())
    }

    pub fn path(&self, folder: &str) -> PathBuf {
        self.root.join(folder)
    }

    pub fn say(&self, message: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{}", message.as_ref());
        }
    }

    pub fn detail(&self, message: impl AsRef<str>) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{}", message.as_ref());
        }
    }
}

/// The time now: `WEIR_NOW` (an RFC 3339 time such as `2026-11-30T12:00:00Z`, or a date) when
/// set, so checks, new incidents and exports are reproducible, else the clock; whole seconds, as
/// weir stores every other time.
fn clock(now: Option<&str>) -> Result<jiff::Timestamp, Error> {
    let Some(text) = now.map(str::trim) else {
        let now = jiff::Timestamp::now().as_second();
        return Ok(jiff::Timestamp::from_second(now).expect("the clock is within jiff's range"));
    };
    crate::engine::functions::epoch(text)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .ok_or_else(|| {
            Error::problem(
                Diagnostic::new(format!("`{text}` is not a time"))
                    .field("WEIR_NOW")
                    .hint("write an RFC 3339 time such as `2026-11-30T12:00:00Z` or a date such as `2026-11-30`, or remove it to use the clock"),
            )
        })
}

/// The project folder: `--root`, or the working directory.
fn project_root(args: &GlobalArgs) -> Result<PathBuf, Error> {
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().map_err(anyhow::Error::from)?,
    };
    if !root.is_dir() {
        return Err(Error::problem(
            Diagnostic::new("the project folder does not exist")
                .at(Location::file(root.display().to_string()))
                .hint("pass `--root DIR` with a folder holding raw_data/, schemas/, mappers/ and queries/"),
        ));
    }
    Ok(root)
}

/// The engine `named` (flag or WEIR_ENGINE), else DuckDB for a `.duckdb` database, else SQLite.
fn engine_kind(named: Option<String>, db: Option<&std::path::Path>) -> Result<Kind, Error> {
    let kind = match named {
        Some(name) => Kind::parse(&name).ok_or_else(|| {
            let mut d = Diagnostic::new(format!("unknown engine `{name}`")).field("WEIR_ENGINE");
            d.hint = crate::error::did_you_mean(&name, Kind::NAMES)
                .or_else(|| Some("use `sqlite`, `duckdb` or `clickhouse`".into()));
            Error::problem(d)
        })?,
        None if db.is_some_and(|p| p.extension().is_some_and(|e| e == "duckdb")) => Kind::DuckDb,
        None => Kind::Sqlite,
    };
    if !kind.available() {
        return Err(Error::problem(
            Diagnostic::new(format!("this build of weir has no {} engine", kind.name())).hint(
                "build with the default features (`cargo build --release`) to include DuckDB, or use `--engine sqlite`",
            ),
        ));
    }
    Ok(kind)
}

/// WEIR_DUCKDB_MEMORY in bytes.
fn duckdb_memory(size: &str) -> Result<u64, Error> {
    parse_size(size).ok_or_else(|| {
        Error::problem(
            Diagnostic::new(format!(
                "`{size}` is not an amount of memory from 1MB to 1PB"
            ))
            .field("WEIR_DUCKDB_MEMORY")
            .hint("write a size such as `512MB` or `2GB` (or remove it to let weir size it)"),
        )
    })
}

/// `512MB`, `2 GiB`, `1.5GB`, `1000000` (bytes): the bytes it names, from 1MB to 1PB. Less
/// leaves DuckDB nothing to work in; more is no machine's memory (and DuckDB is told KiB).
fn parse_size(text: &str) -> Option<u64> {
    let bytes = ::parse_size::parse_size(text.trim()).ok()?;
    (1_000_000..=1_000_000_000_000_000)
        .contains(&bytes)
        .then_some(bytes)
}

fn read_dotenv(root: &Path) -> Result<HashMap<String, String>, Error> {
    let path = root.join(".env");
    if !path.is_file() {
        return Ok(HashMap::new());
    }
    let mut env = HashMap::new();
    for item in dotenvy::from_path_iter(&path).map_err(anyhow::Error::from)? {
        match item {
            Ok((k, v)) => {
                env.insert(k, v);
            }
            // The message of a parse error quotes the line, which may hold a secret: never show it.
            Err(dotenvy::Error::LineParse(_, at)) => {
                return Err(Error::problem(
                    Diagnostic::new(format!("cannot parse it near character {at}"))
                        .at(Location::file(".env"))
                        .hint("write one `NAME=value` per line"),
                ));
            }
            Err(e) => {
                return Err(Error::Internal(
                    anyhow::Error::from(e).context("cannot read `.env`"),
                ));
            }
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::{clock, parse_size};

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(parse_size("512MB"), Some(512_000_000));
        assert_eq!(parse_size(" 2 GiB "), Some(2 << 30));
        assert_eq!(parse_size("1.5gb"), Some(1_500_000_000));
        assert_eq!(parse_size("4000000"), Some(4_000_000));
        assert_eq!(parse_size("1MB"), Some(1_000_000));
        assert_eq!(parse_size("1PB"), Some(1_000_000_000_000_000));
        for bad in [
            "",
            "MB",
            "0MB",
            "12 parsecs",
            "1.2.3GB",
            "-5MB",
            "999999",
            "1.1PB",
            "NaN",
            "inf",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_clock_is_weir_now_when_set() {
        assert_eq!(
            clock(Some("2026-11-30T12:00:00Z")).unwrap().as_second(),
            1_796_040_000
        );
        assert_eq!(
            clock(Some("2026-11-30")).unwrap().as_second(),
            1_795_996_800
        );
        assert!(clock(Some("yesterday")).is_err());
    }
}
