//! `raw_data/<vendor>.state.json`: each incremental entity's high-water mark, saved only after
//! the pages it covers are on disk; the records last seen open (`open`: they can still change,
//! so the next run refreshes them); and the records waiting to be refreshed (`pending`: kept
//! until their pages are on disk, so a run killed mid-refresh is completed by the next). A state
//! file that cannot be read is an error, never "no marks": silently fetching everything again
//! would hide a broken file.

use std::collections::{BTreeMap, BTreeSet};
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
    /// Per entity, the ids last seen open, each with what a refresh needs to know of it.
    open: BTreeMap<String, BTreeMap<String, Json>>,
    /// Per entity, the ids to refresh whose pages are not on disk yet.
    pending: BTreeMap<String, BTreeSet<String>>,
}

impl State {
    pub fn load(root: &Path, vendor: &str) -> Result<State, ExtractError> {
        let relative = format!("raw_data/{vendor}.state.json");
        let path = root.join(&relative);
        let (marks, open, pending) = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes).map_err(|reason| ExtractError::StateInvalid {
                path: relative.clone(),
                reason,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
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
            open,
            pending,
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
        self.save()
    }

    /// The ids of `entity` last seen open, with what was kept of each.
    pub fn open(&self, entity: &str) -> BTreeMap<String, Json> {
        self.open.get(entity).cloned().unwrap_or_default()
    }

    /// Replaces the ids of `entity` seen open, and writes the file.
    pub fn set_open(
        &mut self,
        entity: &str,
        ids: BTreeMap<String, Json>,
    ) -> Result<(), ExtractError> {
        self.open.insert(entity.to_string(), ids);
        self.save()
    }

    /// The ids of `entity` waiting for a refresh.
    pub fn pending(&self, entity: &str) -> BTreeSet<String> {
        self.pending.get(entity).cloned().unwrap_or_default()
    }

    /// Adds ids to refresh, and writes the file before anything depends on them being kept.
    pub fn add_pending(
        &mut self,
        entity: &str,
        ids: impl IntoIterator<Item = String>,
    ) -> Result<(), ExtractError> {
        let set = self.pending.entry(entity.to_string()).or_default();
        let before = set.len();
        set.extend(ids);
        if set.len() == before {
            return Ok(());
        }
        self.save()
    }

    /// Drops ids whose pages are on disk, and writes the file.
    pub fn done_pending<'a>(
        &mut self,
        entity: &str,
        ids: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), ExtractError> {
        if let Some(set) = self.pending.get_mut(entity) {
            for id in ids {
                set.remove(id);
            }
        }
        self.save()
    }

    fn save(&self) -> Result<(), ExtractError> {
        let marks: BTreeMap<&str, String> = self
            .marks
            .iter()
            .map(|(k, v)| (k.as_str(), super::iso(*v)))
            .collect();
        let mut doc = json!({ "high_water": marks });
        let open: BTreeMap<&String, &BTreeMap<String, Json>> =
            self.open.iter().filter(|(_, m)| !m.is_empty()).collect();
        if !open.is_empty() {
            doc["open"] = json!(open);
        }
        let pending: BTreeMap<&String, &BTreeSet<String>> =
            self.pending.iter().filter(|(_, s)| !s.is_empty()).collect();
        if !pending.is_empty() {
            doc["pending"] = json!(pending);
        }
        let text = serde_json::to_vec_pretty(&doc).expect("a map of JSON values serialises");
        crate::atomic::write(&self.path, &text).map_err(|e| ExtractError::Write {
            path: self.relative.clone(),
            reason: e.to_string(),
        })
    }
}

type Parsed = (
    BTreeMap<String, Timestamp>,
    BTreeMap<String, BTreeMap<String, Json>>,
    BTreeMap<String, BTreeSet<String>>,
);

/// `{"high_water": {"<entity>": "<RFC 3339 time>", ...}, "open": {"<entity>": {"<id>": {...}}},
/// "pending": {"<entity>": ["<id>", ...]}}`, as `save` writes it (the last two optional).
fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let value: Json = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let Some(marks) = value.get("high_water").and_then(Json::as_object) else {
        return Err("it has no `high_water` object".into());
    };
    let marks = marks
        .iter()
        .map(|(entity, mark)| {
            let time = mark.as_str().and_then(|s| s.parse::<Timestamp>().ok());
            time.map(|t| (entity.clone(), t))
                .ok_or_else(|| format!("the mark of `{entity}` is not an RFC 3339 time: {mark}"))
        })
        .collect::<Result<_, String>>()?;
    let open = match value.get("open") {
        None => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| format!("`open` is not a map of entities to ids ({e})"))?,
    };
    let pending = match value.get("pending") {
        None => BTreeMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| format!("`pending` is not a map of entities to lists of ids ({e})"))?,
    };
    Ok((marks, open, pending))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_what_advance_writes_is_a_state() {
        let (good, open, pending) =
            parse(br#"{"high_water": {"incidents": "2026-11-02T10:00:00Z"}}"#).unwrap();
        assert_eq!(good["incidents"].to_string(), "2026-11-02T10:00:00Z");
        assert!(open.is_empty() && pending.is_empty());
        let (_, open, pending) = parse(
            br#"{"high_water": {}, "open": {"issues": {"7": {"project": "1"}}}, "pending": {"incidents": ["P1"]}}"#,
        )
        .unwrap();
        assert_eq!(open["issues"]["7"]["project"], "1");
        assert!(pending["incidents"].contains("P1"));
        for bad in [
            &b"{not json"[..],
            b"[]",
            b"{}",
            br#"{"high_water": {"incidents": 17}}"#,
            br#"{"high_water": {"incidents": "yesterday"}}"#,
            br#"{"high_water": {}, "pending": {"incidents": "P1"}}"#,
        ] {
            assert!(parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
