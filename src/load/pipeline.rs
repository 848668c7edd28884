//! Worker threads read, parse and map files, a bounded window at a time; the writer takes their
//! items in file order, so a load is the same whatever the thread count.

use std::collections::VecDeque;
use std::sync::mpsc::{self, Receiver};

use super::files::{RawFile, hash};
use super::parse::parse_file;
use crate::bookkeeping::Rejected;
use crate::engine::Value;
use crate::error::{Diagnostic, Location};
use crate::mapper::Mapper;

/// Items a worker hands over at once: fewer channel operations, still a small window.
const CHUNK: usize = 256;
/// One file to read, and the hash it had when loaded, if the ledger knows it.
pub(super) struct Job {
    pub(super) file: RawFile,
    pub(super) known_hash: Option<String>,
}

/// What a worker hands the writer, in file order.
pub(super) enum Item {
    Record(Box<Rec>),
    Reject(Box<Reject>),
    /// Nothing of the file can be read (bad JSON, YAML, UTF-8, or no record list).
    FileProblem(Diagnostic),
    /// The last item of every file.
    FileEnd(FileEnd),
}

/// How a file ended: `hash` is empty when the file could not be read.
pub(super) struct FileEnd {
    pub(super) hash: String,
    /// The ledger knew this content: nothing of it was mapped again.
    pub(super) unchanged: bool,
    /// The file held nothing at all.
    pub(super) empty: bool,
}

/// A mapped record.
pub(super) struct Rec {
    pub(super) row: Vec<Value>,
    pub(super) children: Vec<Vec<Vec<Value>>>,
    /// Where the record is, for the database's refusals.
    pub(super) at: Location,
    /// Strict (hand-written) sources: its key, for the check that no key repeats.
    pub(super) strict: Option<Strict>,
}

pub(super) struct Strict {
    pub(super) key: Vec<String>,
    /// `file:line:column` of the record.
    pub(super) place: String,
    pub(super) rejected: Rejected,
}

/// A record that cannot be loaded: what to tell, and what to keep of it.
pub(super) struct Reject {
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) rejected: Rejected,
    /// Strict sources: the key, when it could be read, so a repeat is reported too.
    pub(super) strict: Option<Strict>,
}

/// Reads `jobs` on `threads` workers (inline when 1) and hands every item to `take`, file by file
/// in the jobs' order. At most a few files per worker are in flight.
pub(super) fn pipeline(
    mapper: &Mapper,
    jobs: Vec<Job>,
    threads: usize,
    take: &mut dyn FnMut(&RawFile, Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if threads <= 1 || jobs.len() <= 1 {
        for job in &jobs {
            let mut result = Ok(());
            read_file(mapper, job, &mut |item| {
                if result.is_ok() {
                    result = take(&job.file, item);
                }
            });
            result?;
        }
        return Ok(());
    }
    let window = threads * 4;
    type Work = (Job, mpsc::SyncSender<Vec<Item>>);
    // Many workers take from one queue of jobs; each hands its items back on the job's own channel.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Work>(window);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            scope.spawn(move || {
                for (job, out) in job_rx {
                    let mut chunk = Vec::with_capacity(CHUNK);
                    read_file(mapper, &job, &mut |item| {
                        chunk.push(item);
                        if chunk.len() >= CHUNK {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                            // A closed channel means the writer gave up; the job ends quietly.
                            let _ = out.send(full);
                        }
                    });
                    let _ = out.send(chunk);
                }
            });
        }
        let mut pending: VecDeque<(RawFile, Receiver<Vec<Item>>)> = VecDeque::new();
        let mut drain = |file: RawFile, rx: Receiver<Vec<Item>>| -> anyhow::Result<()> {
            let mut done = false;
            for chunk in rx {
                for item in chunk {
                    done |= matches!(item, Item::FileEnd(_));
                    take(&file, item)?;
                }
            }
            anyhow::ensure!(done, "reading `{}` stopped before its end", file.relative);
            Ok(())
        };
        for job in jobs {
            let (tx, rx) = mpsc::sync_channel(2);
            let file = job.file.clone();
            job_tx
                .send((job, tx))
                .map_err(|_| anyhow::anyhow!("the reading threads stopped"))?;
            pending.push_back((file, rx));
            if pending.len() >= window
                && let Some((file, rx)) = pending.pop_front()
            {
                drain(file, rx)?;
            }
        }
        drop(job_tx);
        while let Some((file, rx)) = pending.pop_front() {
            drain(file, rx)?;
        }
        Ok(())
    })
}

/// Reads, parses and maps one file, handing over every record and problem, and at the end `FileEnd`.
pub(super) fn read_file(mapper: &Mapper, job: &Job, emit: &mut dyn FnMut(Item)) {
    let file = &job.file.relative;
    let bytes = match std::fs::read(&job.file.path) {
        Ok(b) => b,
        Err(e) => {
            emit(Item::FileProblem(
                Diagnostic::new(format!("cannot read the file: {e}"))
                    .at(Location::file(file))
                    .hint("check that the file is readable by this user"),
            ));
            emit(Item::FileEnd(FileEnd {
                hash: String::new(),
                unchanged: false,
                empty: false,
            }));
            return;
        }
    };
    let hash = hash(&bytes);
    if job.known_hash.as_deref() == Some(hash.as_str()) {
        emit(Item::FileEnd(FileEnd {
            hash,
            unchanged: true,
            empty: false,
        }));
        return;
    }
    let empty = parse_file(mapper, &job.file, bytes, emit);
    emit(Item::FileEnd(FileEnd {
        hash,
        unchanged: false,
        empty,
    }));
}
