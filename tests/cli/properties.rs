//! The property behind "loaded correctly whatever order the files come in": any permutation of
//! the records, split across any number of files of either kind, gives the same database.
//! Deterministic pseudo-random cases (no shrinking needed: a failure prints its seed).

use crate::harness::{Project, assert_same, engines};

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// 400 records of 90 keys; a record's content follows from its key and version, so copies that
/// tie on version are the same copy (ties of different content are resolved by load order).
fn records() -> Vec<String> {
    let mut rng = Rng(0x5eed);
    (0..400)
        .map(|_| {
            let id = rng.below(90);
            let day = 1 + rng.below(20);
            let tags: Vec<String> = (0..(id + day) % 4).map(|t| format!("\"t{}\"", (t * day) % 7)).collect();
            format!(
                r#"{{"id": "K{id}", "status": "s{}", "at": "2026-03-{day:02}T00:00:00Z", "tags": [{}]}}"#,
                (id * day) % 5,
                tags.join(", ")
            )
        })
        .collect()
}

fn project() -> Project {
    let p = Project::empty();
    p.write(
        "schemas/01.sql",
        "CREATE TABLE tickets (id TEXT PRIMARY KEY, status TEXT, seen_at TEXT);
         CREATE TABLE ticket_tags (ticket_id TEXT, tag TEXT, PRIMARY KEY (ticket_id, tag));",
    );
    p.write(
        "mappers/tickets.yaml",
        "table: tickets\nkey: [id]\nversion: seen_at\ncolumns:\n  id: id\n  status: status\n  seen_at: {from: at, type: timestamp}\nchildren:\n  - table: ticket_tags\n    each: tags\n    link: {ticket_id: id}\n    columns:\n      tag: .\n",
    );
    p
}

#[test]
fn any_order_and_any_split_give_the_same_database() {
    let all = records();
    for engine in engines() {
        let base = project();
        base.write("raw_data/tickets/all.jsonl", &all.join("\n"));
        base.ok(&["--engine", engine, "run-etl"]);
        let expected = base.dump_engine(engine, &[]);
        assert!(expected.lines().count() > 100, "{expected}");
        for seed in 1..=8u64 {
            let mut rng = Rng(seed * 0x9e37_79b9);
            let mut shuffled = all.clone();
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, rng.below(i + 1));
            }
            let p = project();
            let files = 1 + rng.below(12);
            let mut cuts: Vec<usize> = (0..files - 1).map(|_| rng.below(shuffled.len())).collect();
            cuts.push(0);
            cuts.push(shuffled.len());
            cuts.sort();
            for (n, w) in cuts.windows(2).enumerate() {
                let part = &shuffled[w[0]..w[1]];
                // Names sort in another order than they were cut in.
                let name = format!("raw_data/tickets/{:04}-{n}", rng.below(10_000));
                if rng.below(2) == 0 {
                    p.write(&format!("{name}.jsonl"), &part.join("\n"));
                } else {
                    p.write(&format!("{name}.json"), &format!("[{}]", part.join(",\n")));
                }
            }
            // Some cases load the files in more than one run.
            if rng.below(2) == 0 {
                let jobs = (1 + rng.below(4)).to_string();
                p.ok(&["--engine", engine, "run-etl", "--jobs", &jobs]);
            } else {
                for run in 0..2 {
                    for f in p.files("raw_data/tickets") {
                        if (f.len() + run) % 2 == 0 {
                            std::fs::rename(
                                p.path(&format!("raw_data/tickets/{f}")),
                                p.path(&format!("raw_data/tickets/.{f}")),
                            )
                            .unwrap();
                        }
                    }
                    p.ok(&["--engine", engine, "run-etl"]);
                    for f in p.files("raw_data/tickets") {
                        if let Some(name) = f.strip_prefix('.') {
                            std::fs::rename(
                                p.path(&format!("raw_data/tickets/{f}")),
                                p.path(&format!("raw_data/tickets/{name}")),
                            )
                            .unwrap();
                        }
                    }
                }
                p.ok(&["--engine", engine, "run-etl"]);
            }
            assert_same(
                &p.dump_engine(engine, &[]),
                &expected,
                &format!("{engine}, seed {seed}: {} files", files),
            );
        }
    }
}
