//! Every number a user can type: 0, -1, NaN, inf, 1e20, i64::MAX and garbage for each numeric
//! flag and setting. Each value either works, or is refused in one line that names the flag and
//! the accepted range, with exit 1: never a panic (101), never clap's usage code (2).

use crate::harness::Project;

const VALUES: [&str; 7] = [
    "0",
    "-1",
    "NaN",
    "inf",
    "1e20",
    "9223372036854775807",
    "lots",
];

/// One flag or setting, the command line around it, and what it accepts.
struct Case {
    name: &'static str,
    /// The command line with `{}` for the value (`--flag={}` and `--flag {}` are both tried).
    args: &'static [&'static str],
    /// Said in the refusal.
    range: &'static str,
    /// The values of `VALUES` that are accepted, and what then shows they were.
    accepted: &'static [&'static str],
    accepted_then: &'static str,
}

const CASES: [Case; 7] = [
    Case {
        name: "--timeout",
        args: &["extract", "pagerduty", "--timeout", "{}"],
        range: "from 0.001 to 3600",
        accepted: &[],
        accepted_then: "",
    },
    Case {
        name: "--retries",
        args: &["extract", "pagerduty", "--retries", "{}"],
        range: "from 0 to 20",
        // 0 tries each request once; the run then stops for want of a token.
        accepted: &["0"],
        accepted_then: "PAGERDUTY_SECRET is not set",
    },
    Case {
        name: "--max-issue-events",
        args: &["extract", "sentry", "--max-issue-events", "{}"],
        range: "from 1 to 100000",
        accepted: &[],
        accepted_then: "",
    },
    Case {
        name: "--since",
        args: &["extract", "pagerduty", "--since", "{}"],
        range: "from 1970 to 9999",
        accepted: &[],
        accepted_then: "",
    },
    Case {
        name: "--until",
        args: &["extract", "pagerduty", "--until", "{}"],
        range: "from 1970 to 9999",
        accepted: &[],
        accepted_then: "",
    },
    Case {
        name: "--wait",
        args: &["--wait", "{}", "initialize"],
        range: "from 0 to 86400",
        // 0 stops at once when another weir holds the lock.
        accepted: &["0"],
        accepted_then: "",
    },
    Case {
        name: "--jobs",
        args: &["run-etl", "--jobs", "{}"],
        range: "from 1 to 1024",
        accepted: &[],
        accepted_then: "",
    },
];

fn check(out: &crate::harness::Output, what: &str, accepted: bool, then: &str) {
    assert_ne!(out.code, 101, "{what} panicked:\n{}", out.transcript());
    assert!(
        !out.stderr.contains("panicked"),
        "{what}:\n{}",
        out.transcript()
    );
    if accepted {
        assert!(out.stderr.contains(then), "{what}:\n{}", out.transcript());
        assert!(
            out.code == 0 || !then.is_empty(),
            "{what}:\n{}",
            out.transcript()
        );
        return;
    }
    assert_eq!(out.code, 1, "{what}:\n{}", out.transcript());
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{what}:\n{}", out.transcript());
    assert!(
        out.stderr.starts_with("error:"),
        "{what}:\n{}",
        out.transcript()
    );
}

#[test]
fn numeric_flags_refuse_what_they_cannot_use_in_one_line() {
    for case in &CASES {
        for value in VALUES {
            let accepted = case.accepted.contains(&value);
            let spaced: Vec<String> = case.args.iter().map(|a| a.replace("{}", value)).collect();
            let mut joined: Vec<String> = Vec::new();
            for (i, a) in case.args.iter().enumerate() {
                if case.args.get(i + 1) == Some(&"{}") {
                    joined.push(format!("{a}={value}"));
                } else if *a != "{}" {
                    joined.push(a.to_string());
                }
            }
            for args in [spaced, joined] {
                let p = Project::fixture("empty");
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = p.weir(&args);
                let what = format!("weir {}", args.join(" "));
                check(&out, &what, accepted, case.accepted_then);
                if !accepted {
                    let first = out.stderr.lines().next().unwrap_or_default();
                    assert!(
                        first.contains(case.name) && first.contains(case.range),
                        "{what}: the error names neither `{}` nor `{}`:\n{}",
                        case.name,
                        case.range,
                        out.stderr
                    );
                }
            }
        }
    }
}

#[test]
fn duckdb_memory_refuses_what_it_cannot_use_in_one_line() {
    for value in VALUES {
        let p = Project::fixture("empty");
        let out = p.weir_env(&["initialize"], &[("WEIR_DUCKDB_MEMORY", value)]);
        let what = format!("WEIR_DUCKDB_MEMORY={value}");
        check(&out, &what, false, "");
        let first = out.stderr.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            format!(
                "error: WEIR_DUCKDB_MEMORY: `{value}` is not an amount of memory from 1MB to 1PB"
            ),
            "{what}"
        );
    }
    // The edges of the range are accepted.
    for value in ["1MB", "1PB", "2 GiB"] {
        let p = Project::fixture("empty");
        let out = p.weir_env(&["initialize"], &[("WEIR_DUCKDB_MEMORY", value)]);
        assert_eq!(out.code, 0, "{value}:\n{}", out.transcript());
    }
}

#[test]
fn since_must_come_before_until() {
    let p = Project::fixture("empty");
    let out = p.weir(&[
        "extract",
        "pagerduty",
        "--since",
        "2026-02-01",
        "--until",
        "2026-01-01",
    ]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    insta::assert_snapshot!(out.stderr, @r"
    error: --since: `2026-02-01T00:00:00Z` is not before `--until 2026-01-01T00:00:00Z`
      hint: pass a --since earlier than --until
    ");
}

/// `--full` has one meaning, said in the same words by both verbs' help and the README.
#[test]
fn full_means_one_thing_everywhere() {
    const MEANING: &str = "Forget what earlier runs remember and do everything again";
    let p = Project::empty();
    for verb in ["run-etl", "run", "extract"] {
        let out = p.weir(&[verb, "--help"]);
        let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(help.contains(MEANING), "{verb} --help:\n{}", out.stdout);
    }
    let readme = std::fs::read_to_string(format!("{}/README.md", crate::harness::REPO)).unwrap();
    let readme = readme
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    assert_eq!(
        readme.matches(&MEANING.to_lowercase()).count(),
        2,
        "README.md says the meaning of `--full` once for run-etl and once for extract"
    );
}
