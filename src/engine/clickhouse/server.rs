//! Where a ClickHouse warehouse is and how to reach it: the `--db` URL, the credentials from
//! CLICKHOUSE_USER / CLICKHOUSE_PASSWORD, and one HTTP request with retries. No message shows a
//! password or a URL's userinfo.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;

use crate::engine::SqlError;

/// A ClickHouse server (or the one weir first talks to in a cluster) and the database in it.
#[derive(Clone)]
pub struct Server {
    /// `http(s)://host:port`, never with userinfo.
    pub base: String,
    pub database: String,
    /// `?cluster=NAME`: the cluster of `system.clusters` whose shards hold the tables.
    pub cluster: Option<String>,
    /// `?shards=host:port,…`: each shard's HTTP address, in shard order, where they do not all
    /// listen on the URL's port (several servers on one machine).
    pub shards: Option<Vec<String>>,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// A Server shown never shows its password.
impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("base", &self.base)
            .field("database", &self.database)
            .field("cluster", &self.cluster)
            .field("shards", &self.shards)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.database)?;
        if let Some(c) = &self.cluster {
            write!(f, "?cluster={c}")?;
        }
        Ok(())
    }
}

/// Whether `db` names a ClickHouse server rather than a file.
pub fn is_url(db: &str) -> bool {
    let lower = db.to_ascii_lowercase();
    [
        "clickhouse://",
        "clickhouse+https://",
        "http://",
        "https://",
    ]
    .iter()
    .any(|s| lower.starts_with(s))
}

/// `db` without the userinfo of a URL (`user:secret@`), for messages: everything up to its last
/// `@`, since a secret may hold `/`, `?` or `@` itself.
pub fn redact(db: &str) -> String {
    let Some(scheme) = db.find("://") else {
        return db.to_string();
    };
    match db[scheme + 3..].rfind('@') {
        Some(at) => format!("{}…@{}", &db[..scheme + 3], &db[scheme + 3 + at + 1..]),
        None => db.to_string(),
    }
}

/// `%XX` escapes decoded, as userinfo in a URL may hold them.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Server {
    /// Reads `clickhouse://host:port/db?cluster=c` (HTTP; `clickhouse+https://` or `https://`
    /// for TLS). `user`/`password` come from the environment; userinfo in the URL is used when
    /// they are not set. The error says what is wrong without repeating the URL's secret.
    pub fn parse(
        db: &str,
        user: Option<String>,
        password: Option<String>,
    ) -> Result<Server, String> {
        let scheme_end = db.find("://").ok_or("it has no scheme")?;
        let scheme = db[..scheme_end].to_ascii_lowercase();
        let http = match scheme.as_str() {
            "clickhouse" | "http" => "http",
            "https" | "clickhouse+https" => "https",
            other => return Err(format!("`{other}://` is not a ClickHouse scheme")),
        };
        let rest = &db[scheme_end + 3..];
        // The userinfo ends at the last `@`: a password may hold `/`, `?` or `@`.
        let (userinfo, rest) = match rest.rfind('@') {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        if userinfo.is_some_and(|u| u.contains("shards=")) {
            return Err(
                "`shards=` takes `host:port` addresses, without user or password \
                        (give those in CLICKHOUSE_USER and CLICKHOUSE_PASSWORD)"
                    .into(),
            );
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (rest, None),
        };
        let (hostport, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, p),
            None => (before_query, ""),
        };
        if hostport.is_empty() {
            return Err("it names no host".into());
        }
        let hostport = if hostport.contains(':') && !hostport.ends_with(']') {
            hostport.to_string()
        } else {
            format!("{hostport}:{}", if http == "https" { 8443 } else { 8123 })
        };
        let database = path.trim_matches('/');
        let database = if database.is_empty() {
            "default"
        } else {
            database
        };
        if !database
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(format!(
                "the database name `{database}` must be letters, digits and `_`"
            ));
        }
        let (mut url_user, mut url_password) = (None, None);
        if let Some(info) = userinfo {
            let (u, p) = info.split_once(':').unwrap_or((info, ""));
            url_user = Some(percent_decoded(u)).filter(|u| !u.is_empty());
            url_password = Some(percent_decoded(p)).filter(|p| !p.is_empty());
        }
        let mut server = Server {
            base: format!("{http}://{hostport}"),
            database: database.to_string(),
            cluster: None,
            shards: None,
            user: user.or(url_user),
            password: password.or(url_password),
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "cluster" if !v.is_empty() => server.cluster = Some(v.to_string()),
                "shards" if !v.is_empty() => {
                    server.shards = Some(
                        v.split(',')
                            .map(|s| {
                                if s.contains("://") {
                                    s.trim_end_matches('/').to_string()
                                } else {
                                    format!("{http}://{s}")
                                }
                            })
                            .collect(),
                    )
                }
                _ => {
                    return Err(format!(
                        "`{k}` is not a setting weir reads from the URL (`cluster=NAME`, `shards=host:port,…`)"
                    ));
                }
            }
        }
        Ok(server)
    }
}

/// What came back from one request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Fault {
    /// ClickHouse refused the statement: its message, and the position it points at.
    #[error("{}", .0.message)]
    Sql(SqlError),
    /// The server refused the user or password.
    #[error("{0}")]
    Auth(String),
    /// The server could not be reached or kept failing (after retries).
    #[error("{0}")]
    Down(String),
}

/// HTTP to one ClickHouse node: POST the statement, data in the body for inserts.
#[derive(Clone)]
pub struct Node {
    pub base: String,
    client: Client,
    user: Option<String>,
    password: Option<String>,
    database: String,
}

/// Attempts per request: a server restarting or a shard busy for a moment is retried with
/// backoff (0.2, 0.4, 0.8, 1.6 s); a refusal of the SQL is not.
const ATTEMPTS: u32 = 5;

impl Node {
    pub fn new(server: &Server, base: &str) -> anyhow::Result<Node> {
        let client = Client::builder()
            .timeout(Duration::from_secs(300))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Node {
            base: base.to_string(),
            client,
            user: server.user.clone(),
            password: server.password.clone(),
            database: server.database.clone(),
        })
    }

    /// Runs `sql` (with `body` after it, for `INSERT … FORMAT`), in the database or, when
    /// `in_database` is false, outside any (to create it). `settings` are ClickHouse settings.
    pub fn send(
        &self,
        sql: &str,
        body: Option<&[u8]>,
        settings: &[(&str, &str)],
        in_database: bool,
    ) -> Result<String, Fault> {
        self.send_raw(sql, body, settings, in_database)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    }

    /// A query's answer as bytes (Parquet), in the database.
    pub fn send_bytes(&self, sql: &str, settings: &[(&str, &str)]) -> Result<Vec<u8>, Fault> {
        self.send_raw(sql, None, settings, true)
    }

    fn send_raw(
        &self,
        sql: &str,
        body: Option<&[u8]>,
        settings: &[(&str, &str)],
        in_database: bool,
    ) -> Result<Vec<u8>, Fault> {
        let mut params: Vec<(&str, &str)> = settings.to_vec();
        if in_database {
            params.push(("database", &self.database));
        }
        let (text, data) = match body {
            Some(data) => {
                params.push(("query", sql));
                (None, data.to_vec())
            }
            None => (Some(sql), Vec::new()),
        };
        let mut delay = Duration::from_millis(200);
        let mut last = String::new();
        for attempt in 1..=ATTEMPTS {
            let mut request = self.client.post(format!("{}/", self.base)).query(&params);
            if let Some(user) = &self.user {
                request = request.basic_auth(user, self.password.as_ref());
            }
            request = match text {
                Some(sql) => request.body(sql.to_string()),
                None => request.body(data.clone()),
            };
            match request.send() {
                Ok(response) => 'answer: {
                    let status = response.status();
                    // The code is in a header from 19.x; older servers start the body with it.
                    let header = response
                        .headers()
                        .get("X-ClickHouse-Exception-Code")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u32>().ok());
                    let bytes = match response.bytes() {
                        Ok(b) => b.to_vec(),
                        // The answer broke off: never taken for an empty one.
                        Err(_) => {
                            last = "the answer broke off".into();
                            break 'answer;
                        }
                    };
                    if status.is_success() && header.is_none() {
                        return Ok(bytes);
                    }
                    let body = String::from_utf8_lossy(&bytes);
                    let code = header.or_else(|| exception_code(&body));
                    // 403 is also READONLY or ACCESS_DENIED: only these codes are the login.
                    if matches!(code, Some(192 | 193 | 194 | 516))
                        || status == StatusCode::UNAUTHORIZED
                        || (status == StatusCode::FORBIDDEN && code.is_none())
                    {
                        return Err(Fault::Auth(format!(
                            "ClickHouse at {} refused the user `{}`: {}",
                            self.base,
                            self.user.as_deref().unwrap_or("default"),
                            auth_reason(&body)
                        )));
                    }
                    // A statement ClickHouse refuses is refused again; only a server that is
                    // failing (a 5xx without a SQL error code, a shard unreachable from it) is
                    // retried.
                    if !retryable(status, code) {
                        return Err(Fault::Sql(sql_error(&body)));
                    }
                    last = format!("HTTP {status}: {}", first_line(&body));
                }
                Err(e) => {
                    last = if e.is_timeout() {
                        "no answer in time".into()
                    } else if e.is_connect() {
                        "the connection was refused".into()
                    } else {
                        "the connection failed".into()
                    };
                }
            }
            if attempt < ATTEMPTS {
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
        Err(Fault::Down(format!(
            "ClickHouse at {} failed {ATTEMPTS} times: {last}",
            self.base
        )))
    }
}

/// Errors worth another try: the server or a shard behind it failing, not the statement.
/// 209/210: socket timeout, network error; 279: all connection tries failed; 159: timeout;
/// 241/242: memory limit, table read-only for a moment; 252: too many parts; 425: system error.
fn retryable(status: StatusCode, code: Option<u32>) -> bool {
    match code {
        Some(209 | 210 | 279 | 159 | 202 | 241 | 242 | 252 | 425) => true,
        Some(_) => false,
        None => status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
    }
}

/// `Code: 62, e.displayText() = …` (18.x) or `Code: 62. DB::Exception: …` (later).
fn exception_code(body: &str) -> Option<u32> {
    let rest = body.trim_start().strip_prefix("Code: ")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

fn first_line(body: &str) -> &str {
    body.lines().next().unwrap_or_default().trim()
}

fn auth_reason(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    if lower.contains("password") {
        "wrong password; set CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (environment or .env)".into()
    } else if lower.contains("unknown user") || lower.contains("no user") {
        "no such user; set CLICKHOUSE_USER (environment or .env)".into()
    } else {
        "not allowed; check CLICKHOUSE_USER and CLICKHOUSE_PASSWORD (environment or .env)".into()
    }
}

/// ClickHouse's message without its decoration, and the byte it points at (`failed at
/// position N`, 1-based) when it says.
pub fn sql_error(body: &str) -> SqlError {
    let line = first_line(body);
    let mut message = line;
    for prefix in ["e.displayText() = DB::Exception: ", "DB::Exception: "] {
        if let Some(at) = line.find(prefix) {
            message = &line[at + prefix.len()..];
            break;
        }
    }
    let message = message
        .trim_end_matches(", e.what() = DB::Exception")
        .to_string();
    let message = match message.find(" (version ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    let offset = message.find("failed at position ").and_then(|at| {
        let rest = &message[at + "failed at position ".len()..];
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        rest[..end]
            .parse::<usize>()
            .ok()
            .map(|p| p.saturating_sub(1))
    });
    SqlError { message, offset }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_and_never_shown_with_their_secret() {
        let s = Server::parse(
            "clickhouse://ana:s3cret@db.example:9999/weir?cluster=main",
            None,
            None,
        )
        .unwrap();
        assert_eq!(s.base, "http://db.example:9999");
        assert_eq!(
            (s.database.as_str(), s.cluster.as_deref()),
            ("weir", Some("main"))
        );
        assert_eq!(
            (s.user.as_deref(), s.password.as_deref()),
            (Some("ana"), Some("s3cret"))
        );
        assert!(!format!("{s} {s:?}").contains("s3cret"));
        assert_eq!(
            redact("https://ana:s3cret@db.example/weir"),
            "https://…@db.example/weir"
        );
        // A secret may hold `/`, `?` or `@`: all of it up to the last `@` goes.
        let odd = "http://weir:ab/c?d@e@ch.example:8123/weir";
        assert_eq!(redact(odd), "http://…@ch.example:8123/weir");
        let s = Server::parse(odd, None, None).unwrap();
        assert_eq!(
            (s.base.as_str(), s.password.as_deref()),
            ("http://ch.example:8123", Some("ab/c?d@e"))
        );
        let s = Server::parse("http://weir:p%40ss%2Fw@ch/weir", None, None).unwrap();
        assert_eq!(s.password.as_deref(), Some("p@ss/w"));
        let e = Server::parse("http://h/w?shards=u:secret@h2:1", None, None).unwrap_err();
        assert!(e.contains("shards") && !e.contains("secret"), "{e}");
        let s = Server::parse("https://db.example", Some("u".into()), Some("p".into())).unwrap();
        assert_eq!(
            (s.base.as_str(), s.database.as_str()),
            ("https://db.example:8443", "default")
        );
        let s = Server::parse(
            "http://127.0.0.1:1/w?cluster=c&shards=127.0.0.1:2,127.0.0.1:3",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            s.shards.unwrap(),
            ["http://127.0.0.1:2", "http://127.0.0.1:3"]
        );
        assert!(
            Server::parse("http://h/w?user=x", None, None)
                .unwrap_err()
                .contains("`user`")
        );
        assert!(Server::parse("http://h/we-ir", None, None).is_err());
    }

    #[test]
    fn clickhouse_messages_are_read_both_ways() {
        let old = "Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 11: (SELECT 1. Expected identifier, e.what() = DB::Exception\n";
        let e = sql_error(old);
        assert_eq!(
            e.message,
            "Syntax error: failed at position 11: (SELECT 1. Expected identifier"
        );
        assert_eq!(e.offset, Some(10));
        let new = "Code: 60. DB::Exception: Unknown table expression identifier 'nope' in scope SELECT. (UNKNOWN_TABLE) (version 26.9.2.1)\n";
        assert_eq!(
            sql_error(new).message,
            "Unknown table expression identifier 'nope' in scope SELECT. (UNKNOWN_TABLE)"
        );
        assert_eq!(exception_code(old), Some(62));
    }
}
