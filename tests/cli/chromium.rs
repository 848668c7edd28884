//! Headless Chromium, for tests that check a page as a browser shows it. Each visit runs a
//! fresh profile with the network blocked (every host name resolves to nothing) and says what
//! the page logged to its console and which requests it started: Chromium's net log tells a
//! page's requests (initiator: the page's origin, `null` for a file) from the browser's own
//! background ones (initiator: `not an origin`), which it makes whatever the page does.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A Chromium binary.
pub struct Browser {
    binary: PathBuf,
}

/// What one visit of a page gave.
pub struct Visit {
    pub stdout: String,
    /// The page's console messages (errors and uncaught exceptions among them).
    pub console: Vec<String>,
    /// The URLs of the requests the page started.
    pub requests: Vec<String>,
}

const NAMES: [&str; 3] = ["chromium", "chromium-browser", "google-chrome"];

/// Chromium from `WEIR_CHROMIUM`, else the first of `NAMES` on `PATH`. A missing browser fails
/// the test, saying how to install one: a browser test never passes by not running.
pub fn find() -> Browser {
    if let Some(binary) = std::env::var_os("WEIR_CHROMIUM") {
        return Browser {
            binary: binary.into(),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in NAMES {
            let binary = dir.join(name);
            if binary.is_file() {
                return Browser { binary };
            }
        }
    }
    panic!(
        "this test renders the HTML report in headless Chromium, and none was found \
         (looked for {} on PATH, and WEIR_CHROMIUM): install it with `apt-get install -y chromium` \
         (Debian or Ubuntu, as root; .ci/run does so), or set WEIR_CHROMIUM to a Chromium or \
         Chrome binary",
        NAMES.join(", ")
    );
}

impl Browser {
    /// Loads `page` and returns the DOM once its scripts have run.
    pub fn dump_dom(&self, page: &Path) -> Visit {
        self.visit(page, &["--dump-dom".to_string()])
    }

    /// Loads `page` in a window 1000 pixels wide and `height` high and saves it as `png`;
    /// `dark` asks for the page's dark colours (`prefers-color-scheme: dark`).
    pub fn screenshot(&self, page: &Path, png: &Path, height: u32, dark: bool) -> Visit {
        let mut args = vec![
            format!("--screenshot={}", png.display()),
            format!("--window-size=1000,{height}"),
        ];
        // Blink's setting: 0 is dark, 1 light.
        args.push(format!(
            "--blink-settings=preferredColorScheme={}",
            if dark { 0 } else { 1 }
        ));
        self.visit(page, &args)
    }

    fn visit(&self, page: &Path, args: &[String]) -> Visit {
        let scratch = tempfile::tempdir().unwrap();
        let net_log = scratch.path().join("net-log.json");
        let mut command = Command::new(&self.binary);
        command
            .args([
                "--headless",
                // Chromium's sandbox refuses to run as root, as CI does.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--disable-background-networking",
                "--host-resolver-rules=MAP * ~NOTFOUND",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                scratch.path().join("profile").display()
            ))
            .arg(format!("--log-net-log={}", net_log.display()))
            .args(args)
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.binary.display()));
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                panic!(
                    "headless Chromium did not finish {} in 2 minutes",
                    page.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
        assert!(
            status.success(),
            "Chromium failed on {}:\n{stderr}",
            page.display()
        );
        // `[pid:tid:time:INFO:CONSOLE:12] "message", source: file:///… (12)`
        let console = stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect();
        Visit {
            stdout,
            console,
            requests: page_requests(&net_log),
        }
    }
}

/// The URLs of the requests the page (not the browser) started, from Chromium's net log.
fn page_requests(net_log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net_log)
        .unwrap_or_else(|e| panic!("Chromium wrote no net log at {}: {e}", net_log.display()));
    let log: serde_json::Value = serde_json::from_str(&text).expect("the net log is JSON");
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_i64()
        .expect("the net log names its event types");
    let mut urls = Vec::new();
    for event in log["events"].as_array().expect("the net log lists events") {
        let params = &event["params"];
        if event["type"].as_i64() != Some(start_job) || params["url"].is_null() {
            continue;
        }
        if params["initiator"].as_str() != Some("not an origin") {
            urls.push(params["url"].as_str().unwrap_or_default().to_string());
        }
    }
    urls
}
