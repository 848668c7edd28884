//! Any text through the SQL text scanners weir keeps where no engine API serves
//! (`weir::engine::check_constraints` for SQLite's CHECK constraints,
//! `weir::engine::without_primary_key` for DuckDB's table text): never a panic, and what they
//! return comes from the text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    for check in weir::engine::check_constraints(sql) {
        // Folding drops blanks and comments only: never more text than came in.
        assert!(check.expression.len() <= sql.len(), "{check:?}");
        assert!(
            check.columns.iter().all(|c| c.len() <= sql.len()),
            "{check:?}"
        );
    }
    if let Some(bare) = weir::engine::without_primary_key(sql) {
        // Only the key goes: at least `PRIMARY KEY`, nothing is added.
        assert!(bare.len() + "PRIMARY".len() <= sql.len(), "{bare}");
    }
});
