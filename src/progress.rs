//! Progress on stderr for long work, drawn by indicatif: a bar per source while run-etl loads
//! (files, records, rate, time left) and a spinner per entity while extract fetches (pages,
//! records). Drawn only when stderr is a terminal and the caller wants it (not `-q`), so a
//! redirected or scheduled run prints exactly what it printed before; without colour when
//! `NO_COLOR` is set (https://no-color.org). It never writes to stdout, which carries data.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Loads shorter than this never show a bar: a quick re-run should not flash one.
const QUIET_FOR: Duration = Duration::from_millis(500);
/// Redraws per second: often enough to read as live, rare enough to cost nothing.
const HZ: u8 = 5;

/// Whether progress may be drawn: wanted (not `-q`) and stderr a terminal.
fn drawable(wanted: bool) -> bool {
    wanted && std::io::stderr().is_terminal()
}

/// `NO_COLOR` present, whatever its value (console, which indicatif draws with, reads it so too).
fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none()
}

/// `wide_msg` last: the message is cut to the terminal's width, so a line never wraps (a wrapped
/// line is redrawn one row lower each time).
fn style(coloured: &str, plain: &str) -> ProgressStyle {
    let template = if colour() { coloured } else { plain };
    ProgressStyle::with_template(template).expect("the templates are valid")
}

/// One source's load: a bar over its bytes, hidden until the load has run for half a second.
pub struct Progress {
    bar: Option<ProgressBar>,
    shown: bool,
    files: usize,
    files_done: usize,
    started: Instant,
}

impl Progress {
    /// `wanted` is the caller's say (not quiet); the bar shows only on a terminal.
    pub fn new(wanted: bool, source: &str, files: usize, bytes: u64) -> Self {
        let bar = drawable(wanted).then(|| {
            let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::hidden());
            bar.set_style(
                style(
                    "loading {prefix} {bar:20.cyan/blue} {eta} left: {wide_msg}",
                    "loading {prefix} {bar:20} {eta} left: {wide_msg}",
                )
                .progress_chars("=> "),
            );
            bar.set_prefix(source.to_string());
            bar
        });
        Progress {
            bar,
            shown: false,
            files,
            files_done: 0,
            started: Instant::now(),
        }
    }

    /// A file is loaded: `bytes` its size, `records` the source's records so far.
    pub fn file_done(&mut self, bytes: u64, records: usize) {
        let Some(bar) = &self.bar else {
            return;
        };
        self.files_done += 1;
        let secs = self.started.elapsed().as_secs_f64();
        bar.set_message(format!(
            "{}/{} files, {records} records ({:.0}/s)",
            self.files_done,
            self.files,
            records as f64 / secs.max(f64::EPSILON)
        ));
        bar.inc(bytes);
        if !self.shown && self.started.elapsed() >= QUIET_FOR {
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(HZ));
            // The time left and the elapsed time move between files too.
            bar.enable_steady_tick(Duration::from_millis(1000 / u64::from(HZ)));
            self.shown = true;
        }
    }

    /// Clears the bar, so the summary prints on a clean line.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// One entity's extraction: a spinner with its pages and records so far, shown at once (the
/// first page may be slow to come, and a still terminal reads as a hung one).
pub struct Counter {
    bar: Option<ProgressBar>,
    pages: usize,
    records: usize,
}

impl Counter {
    /// `name` is what is fetched (`pagerduty_incidents`).
    pub fn new(wanted: bool, name: &str) -> Self {
        let bar = drawable(wanted).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
            bar.set_style(style(
                "{spinner:.cyan} {prefix} ({elapsed}): {wide_msg}",
                "{spinner} {prefix} ({elapsed}): {wide_msg}",
            ));
            bar.set_prefix(name.to_string());
            bar.set_message("waiting for the first page");
            // Drawn from here on, whole: its first frame has its name and message.
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(HZ));
            bar.enable_steady_tick(Duration::from_millis(1000 / u64::from(HZ)));
            bar
        });
        Counter {
            bar,
            pages: 0,
            records: 0,
        }
    }

    /// Whether the spinner is drawn (else the caller prints its own line per page).
    pub fn drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// A page of `records` records is written; `what` says which (`/incidents page 3`).
    pub fn page(&mut self, records: usize, what: &str) {
        self.pages += 1;
        self.records += records;
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{}, {}; last {what}",
                plural(self.pages, "page"),
                plural(self.records, "record")
            ));
        }
    }

    /// Prints a line on stderr above the spinner.
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

/// `1 page`, `2 pages`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
