//! `weir validate`: the shipped project is clean, and validate writes nothing.

use crate::harness::Project;

#[test]
fn shipped_project_is_valid_and_nothing_is_written() {
    let p = Project::shipped();
    let out = p.ok(&["validate"]);
    assert!(out.stderr.starts_with("ok: "), "{}", out.stderr);
    assert!(!p.path("warehouse.sqlite").exists());
    assert!(!p.path("output").exists());
}

#[test]
fn every_subcommand_has_help_and_a_readme_section() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(crate::harness::REPO).join("README.md"))
            .unwrap();
    for cmd in [
        "initialize",
        "run-etl",
        "run-queries",
        "run",
        "validate",
        "extract",
    ] {
        let out = Project::empty().ok(&[cmd, "--help"]);
        assert!(
            out.stdout.lines().count() > 3,
            "{cmd} --help:\n{}",
            out.stdout
        );
        assert!(
            readme.contains(&format!("weir {cmd}")),
            "README.md does not describe `weir {cmd}`"
        );
    }
}
