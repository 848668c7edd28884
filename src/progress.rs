//! A progress line on stderr for long loads: files, records, rate and time left. Drawn only when
//! stderr is a terminal, at most a few times a second, so a redirected run pays nothing for it.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Loads shorter than this never show a line.
const QUIET_FOR: Duration = Duration::from_millis(500);
const EVERY: Duration = Duration::from_millis(200);

pub struct Progress {
    on: bool,
    drawn: bool,
    source: String,
    files: usize,
    files_done: usize,
    bytes: u64,
    bytes_done: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// `wanted` is the caller's say (not quiet); the line shows only on a terminal.
    pub fn new(wanted: bool, source: &str, files: usize, bytes: u64) -> Self {
        let now = Instant::now();
        Progress {
            on: wanted && std::io::stderr().is_terminal(),
            drawn: false,
            source: source.to_string(),
            files,
            files_done: 0,
            bytes,
            bytes_done: 0,
            started: now,
            last: now,
        }
    }

    pub fn file_done(&mut self, bytes: u64, records: usize) {
        if !self.on {
            return;
        }
        self.files_done += 1;
        self.bytes_done += bytes;
        let now = Instant::now();
        if now - self.started < QUIET_FOR || now - self.last < EVERY {
            return;
        }
        self.last = now;
        let secs = (now - self.started).as_secs_f64();
        let rate = records as f64 / secs;
        let left = if self.bytes_done > 0 {
            let per_byte = secs / self.bytes_done as f64;
            format_secs(per_byte * self.bytes.saturating_sub(self.bytes_done) as f64)
        } else {
            "?".into()
        };
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[2Kloading {}: {}/{} files, {records} records, {rate:.0} records/s, {left} left",
            self.source, self.files_done, self.files
        );
        let _ = err.flush();
        self.drawn = true;
    }

    /// Clears the line, so the summary prints on a clean one.
    pub fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
            self.drawn = false;
        }
    }
}

fn format_secs(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}m{:02}s", s / 60, s % 60)
    }
}
