//! Any JSON through the PagerDuty incidents mapper (children, conversions, page envelopes):
//! mapped records or placed problems; never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weir::mapper::Mapper;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    static MAPPER: OnceLock<Mapper> = OnceLock::new();
    let mapper = MAPPER.get_or_init(|| common::mapper("pagerduty_incidents"));
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for name in ["fuzz.json", "fuzz.jsonl"] {
        let shown = format!("raw_data/pagerduty_incidents/{name}");
        let (_, problems) = weir::load::check_text(mapper, &shown, text);
        for p in problems {
            assert_eq!(p.location.expect("every problem is placed").file, shown);
        }
    }
});
