//! A 2-shard ClickHouse cluster of `clickhouse-server` processes on 127.0.0.1 (free ports, a
//! temp folder each), stopped by pid when dropped. Shared by the ClickHouse tests and the
//! benchmark (`bench/main.rs` includes this file), so it needs only std, tempfile, reqwest and
//! serde_json.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const NEEDS: &str =
    "needs clickhouse-server (Debian's package); .ci/run installs it and runs these";

/// The password of the user `weir` the cluster knows (the default user has none).
pub const PASSWORD: &str = "hunter2-not-for-output";

/// Two servers, one shard each, in one cluster `weir_test`; killed when dropped.
pub struct Cluster {
    servers: Vec<Child>,
    commands: Vec<(PathBuf, String)>,
    pub http: Vec<u16>,
    /// The native-protocol ports, for `clickhouse-client`.
    #[allow(dead_code, reason = "the benchmark's")]
    pub tcp: Vec<u16>,
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn server_binary() -> PathBuf {
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
        Cluster::start_with(false)
    }

    /// With `log_queries`, each server keeps `system.query_log` (for the benchmark's insert
    /// times).
    pub fn start_with(log_queries: bool) -> Cluster {
        let (query_log, log_setting) = if log_queries {
            (
                "<query_log><database>system</database><table>query_log</table><flush_interval_milliseconds>1000</flush_interval_milliseconds></query_log>",
                "<log_queries>1</log_queries>",
            )
        } else {
            ("", "")
        };
        let bin = server_binary();
        let dir = tempfile::tempdir().unwrap();
        // Six distinct ports: each stays bound until all are chosen.
        let held: Vec<TcpListener> = (0..6)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let port = |i: usize| held[i].local_addr().unwrap().port();
        let ports: Vec<(u16, u16, u16)> = (0..2)
            .map(|s| (port(3 * s), port(3 * s + 1), port(3 * s + 2)))
            .collect();
        drop(held);
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
  <remote_servers><weir_test>{remote}</weir_test></remote_servers>{query_log}
</yandex>"#
                ),
            )
            .unwrap();
            std::fs::write(
                format!("{d}/users.xml"),
                format!(
                    r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage>{log_setting}</default></profiles>
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
            tcp: ports.iter().map(|p| p.1).collect(),
            _dir: dir,
        };
        for &port in &cluster.http {
            wait_for(port);
        }
        cluster
    }

    /// The servers' process ids.
    #[allow(dead_code, reason = "the benchmark's")]
    pub fn pids(&self) -> Vec<u32> {
        self.servers.iter().map(Child::id).collect()
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

pub fn wait_for(port: u16) {
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

pub fn post(port: u16, db: &str, sql: &str) -> String {
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
