//! A JSON file read for mapping keeps only what its mapper reads. Each record is cut down, while
//! it is parsed, to the keys of the mapper's key tree (`Mapper::known`): every other value is
//! skipped unparsed, and a key not read is never allocated. The envelope is kept whole, and the
//! body is followed along the records path. A list keeps its length and each element its type.
//!
//! The cut-down value only serves records that map cleanly: where anything is wrong (the text,
//! the records path, a field), the caller reads the file whole and maps it again, so every
//! message, hint and set-aside record is what the full reading says.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value as Json};

use crate::mapper::{KeyTree, Mapper};

static NOTHING: KeyTree = KeyTree {
    keys: std::collections::BTreeMap::new(),
    whole: false,
    elements: None,
};

/// The value of a `.json` file (or a JSONL line, `one_record` when it holds no envelope) with
/// its records cut down to what `mapper` reads; `None` when the text is not what the full
/// reading would take, or not laid out as the mapper expects.
pub(super) fn pruned(text: &str, mapper: &Mapper, one_record: bool) -> Option<Json> {
    let record = &mapper.known;
    let bare = |text| match one_record {
        true => along(text, &[], record),
        false => along(text, &records_path(mapper), record),
    };
    if !text.trim_start().starts_with('{') {
        return bare(text);
    }
    let fields: Fields = serde_json::from_str(text).ok()?;
    if !fields.0.iter().any(|(k, _)| k == "weir_page") {
        return bare(text);
    }
    let records_at = fields
        .0
        .iter()
        .rev()
        .find(|(k, _)| k == "records")
        .map(|(_, v)| serde_json::from_str::<Json>(v.get()));
    let path: Vec<String> = match records_at {
        Some(Ok(Json::String(at))) => at.split('.').map(String::from).collect(),
        Some(_) => return None,
        None => records_path(mapper),
    };
    let mut map = Map::new();
    for (k, v) in fields.0 {
        let value = if k == "body" {
            along(v.get(), &path, record)?
        } else {
            serde_json::from_str(v.get()).ok()?
        };
        map.insert(k, value);
    }
    Some(Json::Object(map))
}

fn records_path(mapper: &Mapper) -> Vec<String> {
    mapper
        .records
        .as_ref()
        .map(|p| p.segments.clone())
        .unwrap_or_default()
}

/// `text` with only the keys along `path` kept, and the records there cut down to `record`.
fn along(text: &str, path: &[String], record: &KeyTree) -> Option<Json> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Along { path, record }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

/// Follows `path` (keeping only its keys), then reads a list of records, or one record.
#[derive(Clone, Copy)]
struct Along<'p> {
    path: &'p [String],
    record: &'p KeyTree,
}

impl<'de> DeserializeSeed<'de> for Along<'_> {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.path.is_empty() && self.record.whole {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Along<'_> {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the records")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let Some((first, rest)) = self.path.split_first() else {
            return Keep(self.record).visit_map(map);
        };
        let mut out = Map::new();
        while let Some(k) = map.next_key_seed(Key)? {
            if k == first.as_str() {
                let v = map.next_value_seed(Along {
                    path: rest,
                    record: self.record,
                })?;
                out.insert(k.into_owned(), v);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Json::Object(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        if !self.path.is_empty() {
            return Err(serde::de::Error::custom(
                "a list where the records path goes on",
            ));
        }
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(Keep(self.record))? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    // Anything else (a scalar where records or an object should be) is read whole instead.
}

/// An object's fields in file order, values unparsed.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> serde::Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<String>()? {
                    out.push((k, map.next_value()?));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A value cut down to the keys of a key tree; scalars as serde_json reads them.
#[derive(Clone, Copy)]
struct Keep<'t>(&'t KeyTree);

impl<'de> DeserializeSeed<'de> for Keep<'_> {
    type Value = Json;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        if self.0.whole {
            return serde::Deserialize::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Keep<'_> {
    type Value = Json;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
        Ok(Json::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
        Ok(Json::Number(i.into()))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
        Ok(Json::Number(u.into()))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Json, E> {
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }
    fn visit_str<E>(self, s: &str) -> Result<Json, E> {
        Ok(Json::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Json, E> {
        Ok(Json::String(s))
    }
    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let each = Keep(self.0.elements.as_deref().unwrap_or(&NOTHING));
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(each)? {
            out.push(v);
        }
        Ok(Json::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::with_capacity(self.0.keys.len());
        while let Some(k) = map.next_key_seed(Key)? {
            match self.0.keys.get(k.as_ref()) {
                Some(tree) => {
                    let v = map.next_value_seed(Keep(tree))?;
                    out.insert(k.into_owned(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Json::Object(out))
    }
}

/// A key, borrowed from the text where it holds no escape.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }
    fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::files::RawFile;
    use super::super::parse::{FALLBACKS, parse_file_with};
    use super::super::pipeline::Item;
    use crate::mapper::Mapper;

    /// Every item of a file, as text: rows and places of records, messages of the rest.
    fn items(mapper: &Mapper, raw: &RawFile, text: &str, prune: bool) -> Vec<String> {
        let mut out = Vec::new();
        parse_file_with(mapper, raw, text.as_bytes().to_vec(), prune, &mut |item| {
            out.push(match item {
                Item::Record(r) => format!("record {:?} {:?} {:?}", r.row, r.children, r.at),
                Item::Reject(r) => format!("reject {:?} {:?}", r.diagnostics, r.rejected),
                Item::FileProblem(d) => format!("problem {d:?}"),
                Item::FileEnd(_) => "end".into(),
            })
        });
        out
    }

    fn raw_file(relative: &str) -> RawFile {
        RawFile {
            path: relative.into(),
            relative: relative.to_string(),
            within: relative.rsplit('/').next().unwrap().to_string(),
            size: 0,
            modified_ns: 0,
        }
    }

    /// Records cut down to what the mapper reads map as the whole records do, for every JSON
    /// and JSONL file of the sample, and for records whose fields are wrong (which are then
    /// mapped whole again, so their messages do not change).
    #[test]
    fn cut_down_records_map_as_whole_ones() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let engine = crate::engine::Sqlite::in_memory().unwrap();
        let schema = crate::schema::read(root, &engine).unwrap();
        let mut compared = 0;
        let mut cut = 0;
        for entry in std::fs::read_dir(root.join("mappers")).unwrap() {
            let path = entry.unwrap().path();
            let source = path.file_stem().unwrap().to_string_lossy().to_string();
            let relative = format!("mappers/{source}.yaml");
            let mapper = crate::mapper::load(
                &source,
                &path,
                &relative,
                &schema.tables,
                &root.join("schemas"),
                None,
            )
            .unwrap();
            let dir = root.join(mapper.raw_path());
            for file in walkdir::WalkDir::new(&dir).into_iter().map(Result::unwrap) {
                let ext = file.path().extension().and_then(|e| e.to_str());
                if !matches!(ext, Some("json" | "jsonl")) {
                    continue;
                }
                let text = std::fs::read_to_string(file.path()).unwrap();
                let rel = file.path().strip_prefix(root).unwrap().to_string_lossy();
                let raw = raw_file(&rel);
                // The same file with every string value made a list: fields of the wrong type.
                let broken = text.replace(": \"", ": [\"").replace("\",", "\"],");
                for text in [&text, &broken] {
                    let whole = items(&mapper, &raw, text, false);
                    let before = FALLBACKS.with(|n| n.get());
                    assert_eq!(items(&mapper, &raw, text, true), whole, "{rel}");
                    // A file whose records all map is mapped from the cut-down value alone.
                    let fell_back = FALLBACKS.with(|n| n.get()) > before;
                    let clean = whole.iter().all(|i| i.starts_with("record") || i == "end");
                    if clean && !mapper.strict {
                        assert!(!fell_back, "{rel} was read whole again");
                    }
                    compared += whole.len();
                }
                if ext == Some("json")
                    && let Some(v) = super::pruned(&text, &mapper, false)
                {
                    let full: serde_json::Value = serde_json::from_str(&text).unwrap();
                    cut += usize::from(v.to_string().len() < full.to_string().len());
                }
            }
        }
        assert!(compared > 500, "{compared}");
        assert!(cut > 20, "{cut}");
    }
}
