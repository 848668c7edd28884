//! What the records of a folder hold, field by field: how many records had each field, the kinds
//! of value it took, up to three masked samples, and whether it looks personal. Reads values only;
//! decides nothing about tables.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value as Json;

use crate::mapper::convert::{self, Conversion, Reading};
use crate::pii;

/// Samples kept per field.
const SAMPLES: usize = 3;
/// A sample longer than this is cut.
const SAMPLE_CHARS: usize = 40;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the patterns of infer/profile.rs are valid regular expressions")
}

static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| regex(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"));
static DATE: LazyLock<Regex> = LazyLock::new(|| regex(r"^\d{4}-\d{2}-\d{2}$"));
/// A number as a spreadsheet cell writes it; `007` is kept as text (a code, not a number).
static CELL_INT: LazyLock<Regex> = LazyLock::new(|| regex(r"^-?(0|[1-9]\d*)$"));
static CELL_REAL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$"));

/// The fields of the objects seen at one place (the records, a nested object, list elements).
#[derive(Debug, Default)]
pub struct Shape {
    /// How many objects were seen here.
    pub objects: usize,
    /// Each field, in the order first seen.
    pub fields: Vec<(String, Field)>,
    index: HashMap<String, usize>,
}

/// Whether a field's values look like personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Personal {
    /// Some values hold an email, phone number, IP address or token among other text.
    Within,
    /// The whole value is one (or the field's name says it is one).
    Whole,
}

/// What one field held across the objects of its shape.
#[derive(Debug, Default)]
pub struct Field {
    /// Objects that had the key, whatever its value.
    pub present: usize,
    pub nulls: usize,
    pub ints: usize,
    pub reals: usize,
    pub bools: usize,
    pub texts: usize,
    pub timestamps: usize,
    pub dates: usize,
    /// The fields of the values that were objects (`objects` counts them).
    pub object: Option<Box<Shape>>,
    pub lists: usize,
    pub empty_lists: usize,
    /// Every element of every list, seen as one field (`present` counts them).
    pub elements: Option<Box<Field>>,
    pub samples: Vec<String>,
    pub personal: Option<Personal>,
}

impl Shape {
    /// Takes one object's fields in. `cells`: the values are spreadsheet text.
    pub fn observe(&mut self, map: &serde_json::Map<String, Json>, cells: bool) {
        self.objects += 1;
        for (k, v) in map {
            let i = match self.index.get(k) {
                Some(&i) => i,
                None => {
                    self.fields.push((k.clone(), Field::default()));
                    self.index.insert(k.clone(), self.fields.len() - 1);
                    self.fields.len() - 1
                }
            };
            self.fields[i].1.observe(v, cells);
        }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.get(name).map(|&i| &self.fields[i].1)
    }
}

impl Field {
    pub fn observe(&mut self, v: &Json, cells: bool) {
        self.present += 1;
        match v {
            Json::Null => self.nulls += 1,
            Json::Bool(b) => {
                self.bools += 1;
                self.sample(&b.to_string());
            }
            Json::Number(n) => {
                if n.as_i64().is_some() {
                    self.ints += 1;
                } else {
                    self.reals += 1;
                }
                self.sample(&n.to_string());
            }
            Json::String(s) => {
                self.text(s, cells);
                self.sample(s);
            }
            Json::Object(map) => self
                .object
                .get_or_insert_with(Default::default)
                .observe(map, cells),
            Json::Array(items) => {
                self.lists += 1;
                if items.is_empty() {
                    self.empty_lists += 1;
                }
                let elements = self.elements.get_or_insert_with(Default::default);
                for item in items {
                    elements.observe(item, cells);
                }
            }
        }
    }

    fn text(&mut self, s: &str, cells: bool) {
        let reads = |conv: Conversion| {
            let reading = Reading {
                format: None,
                text_cells: cells,
            };
            convert::convert_read(Some(&Json::String(s.to_string())), &conv, reading).is_ok()
        };
        let t = s.trim();
        if cells && CELL_INT.is_match(t) && reads(Conversion::Integer) {
            self.ints += 1;
        } else if cells && CELL_REAL.is_match(t) && reads(Conversion::Real) {
            self.reals += 1;
        } else if cells && (t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false")) {
            self.bools += 1;
        } else if DATE_TIME.is_match(s) && reads(Conversion::Timestamp(None)) {
            self.timestamps += 1;
        } else if DATE.is_match(s) && reads(Conversion::Date) {
            self.dates += 1;
        } else {
            self.texts += 1;
        }
        let found = pii::find(s);
        let kind = if found.len() == 1 && found[0].start == 0 && found[0].end == s.len() {
            // A token is never a value to join on: it is redacted, not pseudonymised.
            Some(if found[0].kind == pii::Kind::Token {
                Personal::Within
            } else {
                Personal::Whole
            })
        } else if !found.is_empty() {
            Some(Personal::Within)
        } else {
            None
        };
        self.personal = self.personal.max(kind);
    }

    /// Keeps a masked copy of a scalar, if it is new and there is room.
    fn sample(&mut self, raw: &str) {
        if self.samples.len() >= SAMPLES {
            return;
        }
        let mut s = pii::redact(raw).replace(['\n', '\r', '\t'], " ");
        if s.chars().count() > SAMPLE_CHARS {
            s = s.chars().take(SAMPLE_CHARS - 1).collect::<String>() + "…";
        }
        if !self.samples.contains(&s) {
            self.samples.push(s);
        }
    }

    /// Values that were not null.
    pub fn values(&self) -> usize {
        self.present - self.nulls
    }

    pub fn scalars(&self) -> usize {
        self.ints + self.reals + self.bools + self.texts + self.timestamps + self.dates
    }

    pub fn objects(&self) -> usize {
        self.object.as_ref().map_or(0, |o| o.objects)
    }

    /// Something at or below this field looks personal.
    pub fn holds_personal(&self) -> bool {
        self.personal.is_some()
            || self.object.as_ref().is_some_and(|o| {
                o.fields
                    .iter()
                    .any(|(name, f)| f.holds_personal() || personal_name(name))
            })
            || self.elements.as_ref().is_some_and(|e| e.holds_personal())
    }
}

/// A field name that says its value is a person's address: an email, a phone number, an IP.
pub fn personal_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let words: Vec<&str> = n
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    n.contains("email")
        || n.contains("e_mail")
        || n.contains("phone")
        || words
            .iter()
            .any(|w| matches!(*w, "ip" | "ipv4" | "ipv6" | "mobile" | "msisdn"))
        || n.contains("ip_address")
        || n.contains("ipaddress")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(values: &[Json], cells: bool) -> Field {
        let mut f = Field::default();
        for v in values {
            f.observe(v, cells);
        }
        f
    }

    #[test]
    fn kinds_of_text() {
        let f = field(
            &[
                Json::from("2026-01-05T10:00:00Z"),
                Json::from("2026-01-05"),
                Json::from("later"),
            ],
            false,
        );
        assert_eq!((f.timestamps, f.dates, f.texts), (1, 1, 1));
        let cells = field(
            &[
                Json::from("3"),
                Json::from("007"),
                Json::from("2.5"),
                Json::from("TRUE"),
                Json::from("NaN"),
            ],
            true,
        );
        assert_eq!(
            (cells.ints, cells.reals, cells.bools, cells.texts),
            (1, 1, 1, 2)
        );
        // JSON text is text, whatever it spells
        let json = field(&[Json::from("3"), Json::from("true")], false);
        assert_eq!(json.texts, 2);
    }

    #[test]
    fn samples_are_masked() {
        let f = field(
            &[
                Json::from("ada@example.com"),
                Json::from("+44 20 7946 0958"),
                Json::from("10.1.2.3"),
                Json::from("more"),
            ],
            false,
        );
        assert_eq!(f.samples, ["***@example.com", "+44 ***", "10.x.x.x"]);
        assert_eq!(f.personal, Some(Personal::Whole));
        let within = field(&[Json::from("write to ada@example.com")], false);
        assert_eq!(within.personal, Some(Personal::Within));
    }

    #[test]
    fn personal_names() {
        assert!(personal_name("email"));
        assert!(personal_name("user_email"));
        assert!(personal_name("Email Address"));
        assert!(personal_name("client_ip"));
        assert!(personal_name("phone_number"));
        assert!(!personal_name("zip"));
        assert!(!personal_name("description"));
    }
}
