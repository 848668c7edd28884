//! `manifest.json`: what an export holds, so the side that imports it can check that nothing was
//! altered, lost or added on the way: each table's file, columns and types, rows, and the SHA-256
//! of the file's bytes; which columns the mappers pseudonymise, drop or mask; weir's version and
//! the time of the export.

use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What `format` says: this is a weir export.
pub const FORMAT: &str = "weir-export";
/// The version of the layout below; an import refuses a later one.
pub const VERSION: u32 = 1;
/// The manifest's file name in an export folder.
pub const FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub weir_version: String,
    /// RFC 3339, UTC, to the second.
    pub exported_at: String,
    pub tables: Vec<TableEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    pub name: String,
    /// The CSV file, in the export folder.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the CSV file's bytes.
    pub sha256: String,
    pub columns: Vec<ColumnEntry>,
    /// The key's columns in key order; rows are written in key order (then by the other
    /// columns), NULL first.
    pub primary_key: Vec<String>,
    pub pseudonymized: Vec<String>,
    pub dropped: Vec<String>,
    pub masked: Vec<String>,
    /// `redact`: free text with each email, phone number, address or token in it masked, the rest
    /// kept (so not masked as a whole). Absent from exports of weir versions before it.
    #[serde(default)]
    pub redacted: Vec<String>,
    /// The same rows as Parquet (`--parquet`), beside the CSV; an import checks its hash but
    /// loads the CSV.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parquet: Option<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnEntry {
    pub name: String,
    /// `integer`, `real`, `boolean` or `text` (`portable_type`).
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A column's type in words every engine's declaration maps to (SQLite says `TEXT` where DuckDB
/// says `VARCHAR`), following SQLite's affinity rules: booleans are 0/1 integers in the CSV, and
/// a type that is none of these (a date, say) is text, as reports show it.
pub fn portable_type(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.starts_with("BOOL") {
        "boolean"
    } else if t.contains("INT") {
        "integer"
    } else if ["REAL", "FLOA", "DOUB", "DEC", "NUMERIC"]
        .iter()
        .any(|k| t.contains(k))
    {
        "real"
    } else {
        "text"
    }
}

/// Whether `name` can only name a file inside the export folder.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':', '\0'])
        && name != ".."
}

/// A writer that hashes and counts what passes through it.
pub struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    /// The writer, the bytes written and their hash in lowercase hex.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.bytes, hex(&self.hash.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what it reads.
pub struct HashingReader<R> {
    inner: R,
    hash: Sha256,
    bytes: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }

    pub fn finish(self) -> (u64, String) {
        (self.bytes, hex(&self.hash.finalize()))
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The size and SHA-256 of a file, read in pieces.
pub fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    let mut reader = HashingReader::new(std::fs::File::open(path)?);
    std::io::copy(&mut reader, &mut std::io::sink())?;
    Ok(reader.finish())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_of_the_bytes() {
        // Test vectors of FIPS 180-2 (and `printf abc | sha256sum`).
        let mut w = Hashing::new(Vec::new());
        w.write_all(b"abc").unwrap();
        let (bytes, n, hash) = w.finish();
        assert_eq!((bytes.as_slice(), n), (&b"abc"[..], 3));
        assert_eq!(
            hash,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (n, hash) = HashingReader::new(&b""[..]).finish();
        assert_eq!(n, 0);
        assert_eq!(
            hash,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn types_read_the_same_from_every_engine() {
        for (declared, kind) in [
            ("TEXT", "text"),
            ("VARCHAR", "text"),
            ("BIGINT", "integer"),
            ("INTEGER", "integer"),
            ("BOOLEAN", "boolean"),
            ("DOUBLE", "real"),
            ("REAL", "real"),
            ("DECIMAL(18,3)", "real"),
            ("DATE", "text"),
            ("", "text"),
        ] {
            assert_eq!(portable_type(declared), kind, "{declared}");
        }
    }

    #[test]
    fn file_names_stay_in_the_folder() {
        assert!(plain_file_name("incidents.csv"));
        for bad in [
            "",
            "..",
            "../x.csv",
            "a/b.csv",
            "/etc/passwd",
            ".hidden",
            "c:x",
            "a\\b",
        ] {
            assert!(!plain_file_name(bad), "{bad}");
        }
    }
}
