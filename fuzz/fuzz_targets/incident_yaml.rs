//! Any text as an incident postmortem file through the strict incidents mapper: records, or
//! problems that name the file; never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weir::mapper::Mapper;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static MAPPER: OnceLock<Mapper> = OnceLock::new();
    let mapper = MAPPER.get_or_init(|| common::mapper("incidents"));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (_, problems) = weir::load::check_text(mapper, "raw_data/incidents/fuzz.yaml", text);
    for p in problems {
        let at = p.location.expect("every problem is placed");
        assert_eq!(at.file, "raw_data/incidents/fuzz.yaml");
    }
});
