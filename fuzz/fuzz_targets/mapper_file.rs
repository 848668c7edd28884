//! Any text as a mapper file: a mapper, or problems with places; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let schemas = std::path::Path::new(common::REPO).join("schemas");
    match weir::mapper::parse(
        "fuzz",
        text,
        "mappers/fuzz.yaml",
        common::tables(),
        &schemas,
        None,
    ) {
        Ok(m) => assert!(!m.spec.columns.is_empty()),
        Err(problems) => assert!(problems.iter().all(|p| p.location.is_some())),
    }
});
