//! Locks that keep weir processes from interleaving: one per database file (`<db>.lock`) and one
//! for raw_data/ (`raw_data/.weir.lock`). Writers hold them exclusively, readers shared, so
//! reports can run side by side while nothing writes. They are the operating system's file
//! locks: the kernel drops them when the process ends, even by SIGKILL, so a crash never leaves
//! a stale lock behind.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Diagnostic, Error, Location, Result};
use crate::settings::Settings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Readers: any number at once, no writer.
    Shared,
    /// One writer, no reader.
    Exclusive,
}

/// Holds a lock until dropped.
#[derive(Debug)]
pub struct Guard {
    file: File,
    mode: Mode,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A writer leaving says so; readers coming later must not be taken for it.
        if self.mode == Mode::Exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

const POLL: Duration = Duration::from_millis(100);

/// Takes the lock at `path` (shown as `relative`, guarding `what`) for `command`, waiting up to
/// `settings.wait` for another weir to let go.
pub fn acquire(
    settings: &Settings,
    path: &Path,
    relative: &str,
    what: &str,
    mode: Mode,
    command: &str,
) -> Result<Guard> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            Error::problem(
                Diagnostic::new(format!("cannot create the lock file: {e}"))
                    .at(Location::file(relative))
                    .hint("weir needs to write next to the files it guards; check the folder's permissions"),
            )
        })?;
    let started = Instant::now();
    let mut said_waiting = false;
    loop {
        let attempt = match mode {
            Mode::Shared => file.try_lock_shared(),
            Mode::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => {
                return Err(Error::problem(
                    Diagnostic::new(format!("cannot lock: {e}")).at(Location::file(relative)),
                ));
            }
        }
        let holder = holder(&mut file);
        if started.elapsed() >= settings.wait {
            let waited = if settings.wait.is_zero() {
                String::new()
            } else {
                format!(" (waited {} s)", settings.wait.as_secs_f64())
            };
            return Err(Error::problem(
                Diagnostic::new(format!("{what} is in use by {holder}{waited}"))
                    .at(Location::file(relative))
                    .hint("let it finish, or pass `--wait SECONDS` to wait for it"),
            ));
        }
        if !said_waiting {
            settings.say(format!(
                "waiting for {holder}, which is using {what} (up to {} s)",
                settings.wait.as_secs_f64()
            ));
            said_waiting = true;
        }
        std::thread::sleep(POLL);
    }
    if mode == Mode::Exclusive {
        // Who holds it, for the message another weir shows; best effort.
        let _ = file.set_len(0).and_then(|()| {
            file.rewind()?;
            write!(file, "pid {} (weir {command})", std::process::id())
        });
    }
    Ok(Guard { file, mode })
}

/// What the lock file says of its holder.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let text = text.trim();
    // The pid a killed writer left is stale when that process is gone.
    let alive = text
        .strip_prefix("pid ")
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|pid| !cfg!(target_os = "linux") || Path::new("/proc").join(pid).exists());
    if alive {
        text.to_string()
    } else {
        "another weir reading it".to_string()
    }
}

/// The database lock, or none for a database in memory. A ClickHouse warehouse is locked per
/// project folder (`.clickhouse.lock`): other folders may load into it at once, but two loads
/// from one folder would share its ledger.
pub fn database(settings: &Settings, mode: Mode, command: &str) -> Result<Option<Guard>> {
    if settings.server.is_some() {
        let path = settings.root.join(".clickhouse.lock");
        return acquire(
            settings,
            &path,
            ".clickhouse.lock",
            "the warehouse",
            mode,
            command,
        )
        .map(Some);
    }
    let Some(db) = &settings.db else {
        return Ok(None);
    };
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let relative = crate::load::relative_path(&path, &settings.root);
    acquire(settings, &path, &relative, "the database", mode, command).map(Some)
}

/// The lock of raw_data/ (none when the folder does not exist yet and only readers come).
pub fn raw_data(settings: &Settings, mode: Mode, command: &str) -> Result<Option<Guard>> {
    let dir = settings.path("raw_data");
    if !dir.is_dir() {
        if mode == Mode::Shared {
            return Ok(None);
        }
        std::fs::create_dir_all(&dir).map_err(anyhow::Error::from)?;
    }
    acquire(
        settings,
        &dir.join(".weir.lock"),
        "raw_data/.weir.lock",
        "raw_data/",
        mode,
        command,
    )
    .map(Some)
}
