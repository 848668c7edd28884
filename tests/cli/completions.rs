//! `weir completions <shell>`: a script on stdout that names every subcommand, made without a
//! project folder.

use clap::CommandFactory;
use weir::cli::Cli;

use crate::harness::Project;

#[test]
fn each_shell_script_names_every_subcommand() {
    let subcommands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    assert!(subcommands.len() > 6, "{subcommands:?}");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef weir"),
        ("fish", "complete -c weir"),
    ] {
        let out = Project::empty().ok(&["completions", shell]);
        assert_eq!(out.stderr, "", "{shell}");
        assert!(out.stdout.contains(marker), "{shell}: no `{marker}`");
        for name in &subcommands {
            assert!(
                out.stdout.contains(name.as_str()),
                "{shell} script lacks `{name}`"
            );
        }
        // Flags are completed too.
        assert!(out.stdout.contains("on-error"), "{shell}: no --on-error");
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_choices() {
    let out = Project::empty().weir(&["completions", "tcsh"]);
    assert_eq!(out.code, 1, "{}", out.transcript());
    assert!(
        out.stderr.contains("[possible values: bash, zsh, fish]"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}
