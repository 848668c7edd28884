//! Progress on a terminal: a bar per source during long loads and a spinner per entity during
//! extract, drawn on stderr only when it is a terminal (here a pseudo-terminal from util-linux
//! `script`), never with `-q`, without colour under `NO_COLOR`, and never on a pipe.

use std::time::{Duration, Instant};

use crate::extract::{SECRET, pagerduty};
use crate::fake_server::{FakeServer, Route};
use crate::harness::{Output, Project};

/// One source `t` of `files` files of a thousand records each.
fn source(files: usize) -> Project {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT, n BIGINT);",
    );
    p.write(
        "mappers/t.yaml",
        "table: t\nkey: [id]\nversion: v\ncolumns:\n  id: id\n  v: v\n  n: n\n",
    );
    add_files(&p, 0, files);
    p
}

fn add_files(p: &Project, from: usize, to: usize) {
    for f in from..to {
        let lines: String = (0..1000)
            .map(|i| format!("{{\"id\": {}, \"v\": 1, \"n\": {i}}}\n", f * 1000 + i))
            .collect();
        p.write(&format!("raw_data/t/{f:04}.jsonl"), &lines);
    }
}

/// A terminal with colours, as a person's would be.
const XTERM: (&str, &str) = ("TERM", "xterm-256color");

/// Loads that take over half a second show the bar: a load is made longer until one does (the
/// speed of a debug and a release build differ tenfold), and a load that took seconds without
/// a bar fails the test.
fn long_load(env: &[(&str, &str)]) -> (Project, Output) {
    let p = source(20);
    let mut files = 20;
    loop {
        let started = Instant::now();
        let out = p.weir_terminal(&["run-etl", "--full"], env);
        assert_eq!(out.code, 0, "{}", out.transcript());
        if out.stdout.contains("loading t") {
            return (p, out);
        }
        assert!(
            started.elapsed() < Duration::from_secs(4) && files < 1280,
            "a load of {files} files took {:?} and showed no progress:\n{}",
            started.elapsed(),
            out.stdout
        );
        add_files(&p, files, files * 4);
        files *= 4;
    }
}

/// CSI sequences that set colours (SGR: `ESC [ … m`).
fn colour_codes(text: &str) -> usize {
    text.split("\x1b[")
        .skip(1)
        .filter(|rest| {
            let code: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ';')
                .collect();
            rest[code.len()..].starts_with('m')
        })
        .count()
}

#[test]
fn a_long_load_draws_a_bar_with_files_records_rate_and_time_left() {
    let (_, out) = long_load(&[XTERM]);
    let shown = &out.stdout;
    for part in ["loading t ", " files, ", " records (", "/s)", " left: "] {
        assert!(shown.contains(part), "no `{part}` in:\n{shown:?}");
    }
    assert!(colour_codes(shown) > 0, "no colour on a colour terminal");
    // The bar is cleared before the books, so they print on a clean line.
    let books = shown.rfind("loaded t ").expect("the books are printed");
    assert!(shown[..books].ends_with("\x1b[2K"), "{shown:?}");
}

#[test]
fn no_color_draws_the_bar_without_colour() {
    let (_, out) = long_load(&[XTERM, ("NO_COLOR", "1")]);
    assert_eq!(colour_codes(&out.stdout), 0, "{:?}", out.stdout);
}

#[test]
fn a_short_load_draws_nothing() {
    let p = source(1);
    let out = p.weir_terminal(&["run-etl"], &[XTERM]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.stdout.contains("loading"), "{:?}", out.stdout);
    assert!(out.stdout.contains("loaded t "), "{:?}", out.stdout);
}

#[test]
fn quiet_draws_nothing_on_a_terminal() {
    let (p, _) = long_load(&[XTERM]);
    let out = p.weir_terminal(&["-q", "run-etl", "--full"], &[XTERM]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert_eq!(out.stdout, "", "-q printed on the terminal");
}

#[test]
fn a_pipe_gets_no_bar_however_long_the_load() {
    let (p, _) = long_load(&[XTERM]);
    let out = p.weir_env(&["run-etl", "--full"], &[XTERM]);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(!out.stderr.contains('\x1b'), "{:?}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("loaded t "),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extract_draws_a_spinner_per_entity_on_a_terminal() {
    let server = FakeServer::start().await;
    pagerduty(&server);
    // A slow second page keeps the spinner up long enough to be drawn more than once.
    server.add(
        Route::get("/services")
            .query("offset", "2")
            .priority(1)
            .delay(Duration::from_millis(600))
            .json(
                200,
                crate::extract::pd_page(
                    "services",
                    vec![crate::extract::service("PS3", "Payments")],
                    2,
                    false,
                ),
            ),
    );
    // A retry's note prints whole, above the spinner.
    server.add(
        Route::get("/services")
            .query("offset", "0")
            .text(500, "upstream broke")
            .times(1)
            .priority(0),
    );
    let p = Project::fixture("empty");
    let env = [
        XTERM,
        ("PAGERDUTY_SECRET", SECRET),
        ("PAGERDUTY_BASE_URL", server.uri.as_str()),
    ];
    let args = ["extract", "pagerduty", "--entity", "services"];
    let out = p.weir_terminal_async(&args, &env).await;
    assert_eq!(out.code, 0, "{}", out.transcript());
    let shown = &out.stdout;
    assert!(
        shown.contains("pagerduty_services (0s): waiting for the first page"),
        "{shown:?}"
    );
    assert!(
        shown.contains("2 pages, 3 records; last /services page 2"),
        "{shown:?}"
    );
    assert!(
        shown.contains("1 page, 2 records; last /services page 1"),
        "{shown:?}"
    );
    // On a terminal the spinner counts the pages; a log gets a line per page instead.
    assert!(!shown.contains("page 1: 2 records"), "{shown:?}");
    assert!(shown.contains("extracted pagerduty_services"), "{shown:?}");
    // The retry note prints above the spinner: it clears the spinner's line first, unless it
    // came before the spinner was first drawn.
    let note = "pagerduty: GET /services?limit=100&offset=0: HTTP 500";
    assert!(
        shown.starts_with(note) || shown.contains(&format!("\x1b[2K{note}")),
        "{shown:?}"
    );
    let quiet = p
        .weir_terminal_async(&["-q", args[0], args[1], args[2], args[3]], &env)
        .await;
    assert_eq!(quiet.code, 0, "{}", quiet.transcript());
    assert_eq!(quiet.stdout, "", "-q printed on the terminal");
    let piped = p.weir_async(&args, &env[1..]).await;
    assert!(
        piped.stderr.contains("page 1: 2 records"),
        "{}",
        piped.stderr
    );
    assert!(!piped.stderr.contains('\x1b'), "{:?}", piped.stderr);
}
