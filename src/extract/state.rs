//! `raw_data/<vendor>.state.json`: each incremental entity's high-water mark, saved only after
//! the pages it covers are on disk. A state file that cannot be read is an error, never "no
//! marks": silently fetching everything again would hide a broken file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde_json::{Value as Json, json};

use super::ExtractError;

/// High-water marks per entity.
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    /// The path relative to the project root, for messages.
    relative: String,
    marks: BTreeMap<String, Timestamp>,
}

impl State {
    pub fn load(root: &Path, vendor: &str) -> Result<State, ExtractError> {
        let relative = format!("raw_data/{vendor}.state.json");
        let path = root.join(&relative);
        let marks = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|reason| ExtractError::StateInvalid {
                path: relative.clone(),
                reason,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(ExtractError::StateUnreadable {
                    path: relative,
                    reason: e.to_string(),
                });
            }
        };
        Ok(State {
            path,
            relative,
            marks,
        })
    }

    pub fn mark(&self, entity: &str) -> Option<Timestamp> {
        self.marks.get(entity).copied()
    }

    /// Records `entity`'s new mark and writes the file atomically.
    pub fn advance(&mut self, entity: &str, mark: Timestamp) -> Result<(), ExtractError> {
        if self.mark(entity).is_some_and(|old| old >= mark) {
            return Ok(());
        }
        self.marks.insert(entity.to_string(), mark);
        let marks: BTreeMap<&str, String> = self
            .marks
            .iter()
            .map(|(k, v)| (k.as_str(), super::iso(*v)))
            .collect();
        let text = serde_json::to_vec_pretty(&json!({ "high_water": marks }))
            .expect("a map of strings serialises");
        let temp = self.path.with_extension("json.tmp");
        let fail = |e: std::io::Error| ExtractError::Write {
            path: self.relative.clone(),
            reason: e.to_string(),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(&temp, text).map_err(fail)?;
        std::fs::rename(&temp, &self.path).map_err(fail)
    }
}

/// `{"high_water": {"<entity>": "<RFC 3339 time>", ...}}`, as `advance` writes it.
fn parse(bytes: &[u8]) -> Result<BTreeMap<String, Timestamp>, String> {
    let value: Json = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let Some(marks) = value.get("high_water").and_then(Json::as_object) else {
        return Err("it has no `high_water` object".into());
    };
    marks
        .iter()
        .map(|(entity, mark)| {
            let time = mark.as_str().and_then(|s| s.parse::<Timestamp>().ok());
            time.map(|t| (entity.clone(), t))
                .ok_or_else(|| format!("the mark of `{entity}` is not an RFC 3339 time: {mark}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_what_advance_writes_is_a_state() {
        let good = parse(br#"{"high_water": {"incidents": "2026-11-02T10:00:00Z"}}"#).unwrap();
        assert_eq!(good["incidents"].to_string(), "2026-11-02T10:00:00Z");
        for bad in [
            &b"{not json"[..],
            b"[]",
            b"{}",
            br#"{"high_water": {"incidents": 17}}"#,
            br#"{"high_water": {"incidents": "yesterday"}}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
