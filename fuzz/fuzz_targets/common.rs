//! The shipped schemas as tables, read once per fuzz process.

use std::path::Path;
use std::sync::OnceLock;

use weir::engine::{self, Kind, Table};

pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

pub fn tables() -> &'static [Table] {
    static TABLES: OnceLock<Vec<Table>> = OnceLock::new();
    TABLES.get_or_init(|| {
        let mut script = String::new();
        let mut files: Vec<_> = std::fs::read_dir(Path::new(REPO).join("schemas"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        for f in files {
            script.push_str(&std::fs::read_to_string(f).unwrap());
            script.push('\n');
        }
        engine::open(Kind::Sqlite, None, false, None)
            .unwrap()
            .declared_tables(&script)
            .unwrap()
    })
}

#[allow(dead_code)] // Not every target maps records.
pub fn mapper(source: &str) -> weir::mapper::Mapper {
    let path = Path::new(REPO).join(format!("mappers/{source}.yaml"));
    weir::mapper::load(
        source,
        &path,
        &format!("mappers/{source}.yaml"),
        tables(),
        &Path::new(REPO).join("schemas"),
        // The sample's published secret: the shipped mappers pseudonymise.
        Some(&std::sync::Arc::new(
            weir::mapper::privacy::Secret::new(weir::mapper::privacy::SAMPLE_SECRET)
                .expect("the sample secret is long enough"),
        )),
    )
    .unwrap()
}
