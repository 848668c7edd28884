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
