//! Flags, the environment and `.env` resolve to one set of settings by one rule: a relative
//! `--db`/`WEIR_DB` is in the project folder (`--root`), wherever weir is started from.

use crate::harness::{Project, run_in};

/// Runs `initialize` from another folder than the project's, with `--root` pointing at it, and
/// checks the database lands in the project folder only.
fn initialize_from_elsewhere(p: &Project, args: &[&str], env: &[(&str, &str)], db: &str) {
    let elsewhere = tempfile::tempdir().unwrap();
    let root = p.dir.path().to_str().unwrap();
    let mut argv = vec!["--root", root];
    argv.extend_from_slice(args);
    argv.push("initialize");
    let out = run_in(elsewhere.path(), &argv, env);
    assert_eq!(out.code, 0, "{}", out.transcript());
    assert!(p.path(db).is_file(), "no {db} in the project folder");
    let stray: Vec<_> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        stray.is_empty(),
        "written in the working directory: {stray:?}"
    );
    assert_eq!(
        p.sql_at(
            p.path(db).to_str().unwrap(),
            "SELECT count(*) FROM sqlite_schema WHERE name = 'incidents'"
        ),
        ["1"]
    );
}

#[test]
fn a_relative_db_flag_is_in_the_project_folder() {
    let p = Project::shipped();
    initialize_from_elsewhere(&p, &["--db", "flag.sqlite"], &[], "flag.sqlite");
}

#[test]
fn a_relative_weir_db_from_the_environment_is_in_the_project_folder() {
    let p = Project::shipped();
    initialize_from_elsewhere(&p, &[], &[("WEIR_DB", "env.sqlite")], "env.sqlite");
}

#[test]
fn a_relative_weir_db_from_dotenv_is_in_the_project_folder() {
    let p = Project::shipped();
    p.write(".env", "WEIR_DB=dotenv.sqlite\n");
    initialize_from_elsewhere(&p, &[], &[], "dotenv.sqlite");
}
