//! The docs cannot drift from the command line: every `weir …` command in README.md and docs/*.md
//! is one that clap accepts, and every subcommand has help and a command in the README.

use std::path::Path;

use clap::CommandFactory;
use clap::error::ErrorKind;
use weir::cli::Cli;

use crate::harness::{Project, REPO};

/// A command line quoted in a doc, where it is.
struct Quoted {
    file: String,
    line: usize,
    text: String,
}

/// The code a markdown text shows: each line of a fenced block, and each inline code span (which
/// may wrap onto the next line), with the line it starts on.
fn code(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    // The paragraph outside fences being gathered, and the line each of its characters is on.
    let mut prose = String::new();
    let mut lines = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        if fence || fenced || line.trim().is_empty() {
            spans(&prose, &lines, &mut out);
            prose.clear();
            lines.clear();
        }
        if fence {
            fenced = !fenced;
        } else if fenced {
            out.push((i + 1, line.to_string()));
        } else if !line.trim().is_empty() {
            prose.push_str(line);
            prose.push('\n');
            lines.resize(prose.len(), i + 1);
        }
    }
    spans(&prose, &lines, &mut out);
    out
}

/// The inline code spans of one paragraph: a run of backticks up to the next run as long.
fn spans(prose: &str, lines: &[usize], out: &mut Vec<(usize, String)>) {
    let mut rest = prose;
    while let Some(start) = rest.find('`') {
        let offset = prose.len() - rest.len() + start;
        let ticks = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        let body = &rest[start + ticks..];
        let Some(end) = find_run(body, ticks) else {
            return;
        };
        let span = body[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        out.push((lines[offset], span));
        rest = &body[end + ticks..];
    }
}

/// Where a run of exactly `ticks` backticks starts in `text`.
fn find_run(text: &str, ticks: usize) -> Option<usize> {
    let mut at = 0;
    while let Some(found) = text[at..].find('`') {
        let start = at + found;
        let run = text[start..].len() - text[start..].trim_start_matches('`').len();
        if run == ticks {
            return Some(start);
        }
        at = start + run;
    }
    None
}

/// The `weir …` (or `cargo run --release -- …`) commands quoted in README.md and docs/*.md.
fn quoted_commands() -> Vec<Quoted> {
    let mut files = vec![Path::new(REPO).join("README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(Path::new(REPO).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut out = Vec::new();
    for path in files {
        let file = path
            .strip_prefix(REPO)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for (line, code) in code(&text) {
            let code = code.trim();
            let code = code.strip_prefix("$ ").unwrap_or(code);
            let args = code
                .strip_prefix("weir ")
                .or_else(|| code.strip_prefix("cargo run --release -- "));
            if let Some(args) = args {
                out.push(Quoted {
                    file: file.clone(),
                    line,
                    text: args.to_string(),
                });
            }
        }
    }
    out
}

/// A synopsis as command lines to try: `[--since TIME]` is `--since 2026-01-01`, `[NAME...]` is `NAME`, and
/// `<a|b>` or `a|b` gives one command line per choice. A lone subcommand (`weir extract`, as prose
/// names it) is tried with `--help`, which checks the name alone; `weir …` stands for any command.
fn command_lines(synopsis: &str) -> Vec<Vec<String>> {
    let plain = synopsis.replace(['[', ']', '…'], " ").replace("...", " ");
    let words = shell_words(&plain);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    if words.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![vec!["weir".to_string()]];
    for word in &words {
        // A placeholder for a time stands for a valid one.
        let word = if *word == "TIME" { "2026-01-01" } else { *word };
        let choices: Vec<&str> = word
            .trim_start_matches('<')
            .trim_end_matches('>')
            .split('|')
            .collect();
        lines = lines
            .iter()
            .flat_map(|line| {
                choices.iter().map(move |c| {
                    let mut next = line.clone();
                    next.push((*c).to_string());
                    next
                })
            })
            .collect();
    }
    if let [word] = words[..]
        && !word.starts_with('-')
    {
        for line in &mut lines {
            line.push("--help".to_string());
        }
    }
    lines
}

/// Words as a shell splits them: at whitespace, but not inside double quotes (`"Payments API"`).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// The subcommand a command line names, if clap accepts the line, or why it refuses it.
fn parse(argv: &[String]) -> Result<Option<String>, String> {
    let cli = Cli::command();
    match cli.clone().try_get_matches_from(argv) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {}
        Err(e) => return Err(e.to_string().lines().next().unwrap_or_default().to_string()),
    }
    Ok(argv
        .iter()
        .skip(1)
        .find(|w| cli.find_subcommand(w.as_str()).is_some())
        .cloned())
}

#[test]
fn every_weir_command_in_the_docs_parses() {
    let quoted = quoted_commands();
    assert!(quoted.len() > 20, "only {} commands found", quoted.len());
    let mut refused = Vec::new();
    for q in &quoted {
        for argv in command_lines(&q.text) {
            if let Err(why) = parse(&argv) {
                refused.push(format!(
                    "{}:{}: `{}`: {why}",
                    q.file,
                    q.line,
                    argv.join(" ")
                ));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "commands in the docs that weir refuses:\n{}",
        refused.join("\n")
    );
}

#[test]
fn every_subcommand_has_help_and_a_readme_command() {
    let mut in_readme = Vec::new();
    for q in quoted_commands().iter().filter(|q| q.file == "README.md") {
        for argv in command_lines(&q.text) {
            if let Ok(Some(name)) = parse(&argv) {
                in_readme.push(name);
            }
        }
    }
    for sub in Cli::command().get_subcommands() {
        let name = sub.get_name();
        let out = Project::empty().ok(&[name, "--help"]);
        assert!(
            out.stdout.lines().count() > 3,
            "{name} --help:\n{}",
            out.stdout
        );
        assert!(
            in_readme.iter().any(|n| n == name),
            "README.md shows no `weir {name} …` command"
        );
    }
}

/// STYLE.md: clap stays at the edge. `cli.rs` parses, `lib.rs` resolves (and `settings.rs` reads
/// the shared flags, `main.rs` calls the parser); commands, reports and loads take plain values.
#[test]
fn clap_types_stay_in_cli_and_lib() {
    let edge = ["cli.rs", "lib.rs", "main.rs", "settings.rs"];
    let mut named = Vec::new();
    for entry in walkdir::WalkDir::new(Path::new(REPO).join("src")) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(Path::new(REPO).join("src"))
            .unwrap();
        if entry.path().extension().is_none_or(|e| e != "rs")
            || edge.iter().any(|e| rel == Path::new(e))
        {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.contains("clap::") || line.contains("crate::cli") {
                named.push(format!("src/{}:{}: {}", rel.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        named.is_empty(),
        "clap named outside cli.rs and lib.rs:\n{}",
        named.join("\n")
    );
}
