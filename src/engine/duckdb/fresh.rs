//! A table that was empty when the load first wrote to it: a record whose key the load has not
//! written before cannot meet a stored row or stored children, so it is inserted as it is, with
//! no lookup in the table. Only the records whose key may have come before (a Bloom filter of
//! the keys written, `Keys`) take the merge that looks the table up (`merge`), whose cost grows
//! with the table. A first load of n records thus scans the table once per batch of such
//! records, not once per batch of all records.
//!
//! The filter answers "not written" with certainty, and "written" wrongly now and then: such a
//! record takes the merge, which is always right. Keys are hashed as the table compares them:
//! a text key as its text (a number held for a text column is cast to its decimal digits, as
//! DuckDB casts it), an integer key as its value. A key that cannot be hashed so (a NULL, a
//! real, text for an integer column) ends the shortcut for the rest of the load.

use std::hash::{DefaultHasher, Hash, Hasher};

use super::held::Held;
use crate::engine::Value;

/// The shortcut of one writer's stage: the keys written, and the records held to be inserted.
pub(super) struct Fresh {
    /// How each key column compares.
    kinds: Vec<KeyKind>,
    keys: Keys,
    /// Rows held to be inserted as they are, as the stage holds them (`Stage::top`).
    pub(super) top: Held,
    pub(super) children: Vec<Held>,
}

/// What the shortcut makes of a record.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// Its key is new: it is held to be inserted as it is.
    New,
    /// Its key may have been written: it takes the merge.
    Seen,
    /// Its key cannot be hashed as the table compares it: the shortcut ends.
    Unknown,
}

impl Fresh {
    pub(super) fn new(kinds: Vec<KeyKind>, top: usize, children: &[usize]) -> Fresh {
        Fresh {
            kinds,
            keys: Keys::default(),
            top: Held::new(top),
            children: children.iter().map(|&w| Held::new(w)).collect(),
        }
    }

    /// Whether the record whose key columns are `key` (places in `row`) is new; a new key is
    /// counted as written from here on.
    pub(super) fn claim(&mut self, key: &[usize], row: &[Value]) -> Claim {
        match key_hash(&self.kinds, key.iter().map(|&k| &row[k])) {
            None => Claim::Unknown,
            Some(h) if self.keys.insert_new(h) => Claim::New,
            Some(_) => Claim::Seen,
        }
    }
}

/// How a key column compares in its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Text,
    Integer,
}

impl KeyKind {
    /// The kind of a key column declared as `ty` (DuckDB's spelling), if the shortcut knows it.
    pub(super) fn of(ty: &str) -> Option<KeyKind> {
        match ty {
            "VARCHAR" => Some(KeyKind::Text),
            "BIGINT" | "INTEGER" => Some(KeyKind::Integer),
            _ => None,
        }
    }
}

/// The hash of a record's key as its table compares it; None where it cannot be told.
pub(super) fn key_hash<'v>(kinds: &[KeyKind], key: impl Iterator<Item = &'v Value>) -> Option<u64> {
    let mut h = DefaultHasher::new();
    let mut parts = 0;
    for (kind, v) in kinds.iter().zip(key) {
        parts += 1;
        match (kind, v) {
            (KeyKind::Text, Value::Text(s)) => s.hash(&mut h),
            (KeyKind::Text, Value::Integer(i)) => itoa::Buffer::new().format(*i).hash(&mut h),
            (KeyKind::Integer, Value::Integer(i)) => i.hash(&mut h),
            _ => return None,
        }
    }
    (parts == kinds.len()).then(|| h.finish())
}

/// The keys a load wrote to a table, as a scalable Bloom filter: parts of doubling capacity,
/// each a little tighter (6 bits per key, then 7, …), so that memory follows the keys written
/// (about 1.5 MB per million keys at 10M) and an unwritten key is wrongly "written" about once
/// in 18 up to 1M keys, once in 8 at 10M.
#[derive(Default)]
pub(super) struct Keys {
    parts: Vec<Part>,
}

struct Part {
    bits: Vec<u64>,
    /// The number of bits.
    len_bits: u64,
    hashes: u32,
    capacity: usize,
    len: usize,
}

/// The first part's capacity; each next one doubles it.
const FIRST: usize = 1 << 20;

impl Part {
    fn new(capacity: usize, bits_per_key: usize) -> Part {
        let words = (capacity * bits_per_key).div_ceil(64);
        Part {
            bits: vec![0; words],
            len_bits: words as u64 * 64,
            // The number of hashes that makes the fewest false answers: bits per key × ln 2.
            hashes: ((bits_per_key as f64) * std::f64::consts::LN_2).round() as u32,
            capacity,
            len: 0,
        }
    }

    /// The bits of `h`, by double hashing, each hash taken into range by a multiply (the high
    /// half of hash × bits).
    fn places(&self, h: u64) -> impl Iterator<Item = u64> + '_ {
        let step = h.rotate_left(32) | 1;
        (0..u64::from(self.hashes)).map(move |i| {
            let g = h.wrapping_add(i.wrapping_mul(step));
            ((u128::from(g) * u128::from(self.len_bits)) >> 64) as u64
        })
    }

    fn contains(&self, h: u64) -> bool {
        self.places(h)
            .all(|b| self.bits[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }

    fn insert(&mut self, h: u64) {
        let places: Vec<u64> = self.places(h).collect();
        for b in places {
            self.bits[(b / 64) as usize] |= 1 << (b % 64);
        }
        self.len += 1;
    }
}

impl Keys {
    /// Adds `h`; true when it was certainly not there before.
    pub(super) fn insert_new(&mut self, h: u64) -> bool {
        if self.parts.iter().any(|p| p.contains(h)) {
            return false;
        }
        if self.parts.last().is_none_or(|p| p.len >= p.capacity) {
            let n = self.parts.len();
            self.parts.push(Part::new(FIRST << n, 6 + n));
        }
        self.parts.last_mut().expect("a part").insert(h);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn keys_hash_as_the_table_compares_them() {
        let t = [KeyKind::Text];
        let h = |v: Value| key_hash(&t, std::iter::once(&v));
        // A number held for a text column is its decimal digits, as DuckDB casts it.
        assert_eq!(h(Value::Integer(-42)), h(text("-42")));
        assert_ne!(h(text("42")), h(text("042")));
        assert_eq!(h(Value::Null), None);
        assert_eq!(h(Value::Real(1.5)), None);
        let i = [KeyKind::Integer];
        assert_eq!(key_hash(&i, std::iter::once(&text("42"))), None);
        assert!(key_hash(&i, std::iter::once(&Value::Integer(42))).is_some());
        // Parts of a key are told apart, and every part is needed.
        let two = [KeyKind::Text, KeyKind::Text];
        let pair = |a: &str, b: &str| key_hash(&two, [text(a), text(b)].iter());
        assert_ne!(pair("ab", "c"), pair("a", "bc"));
        assert_eq!(key_hash(&two, [text("a")].iter()), None);
    }

    #[test]
    fn a_key_written_is_never_new_again_and_few_unwritten_ones_look_written() {
        let mut keys = Keys::default();
        let hash = |i: u64| {
            key_hash(
                &[KeyKind::Integer],
                std::iter::once(&Value::Integer(i as i64)),
            )
        };
        // Past the first part, so that a second one is taken.
        let n = FIRST as u64 + 100_000;
        let mut wrongly_written = 0;
        for i in 0..n {
            if !keys.insert_new(hash(i).unwrap()) {
                wrongly_written += 1;
            }
        }
        assert_eq!(keys.parts.len(), 2);
        for i in (0..n).step_by(997) {
            assert!(!keys.insert_new(hash(i).unwrap()), "key {i}");
        }
        let mut unwritten = 0;
        for i in n..n + 100_000 {
            unwritten += usize::from(!keys.insert_new(hash(i).unwrap()));
        }
        // The first part answers wrongly for about 5.6 % of unwritten keys, the second 3.5 %.
        assert!(wrongly_written < n as usize / 25, "{wrongly_written}");
        assert!(unwritten < 100_000 / 9, "{unwritten}");
    }
}
