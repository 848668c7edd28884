//! `context_from_path`: a bare vendor body carries no page envelope, so the context its rows need
//! (the repository of a page of repository teams, the issue of a page of events) is read from the
//! file's path below the source folder, by a pattern such as `{repo}.json`.

use serde_json::{Map, Value as Json};

/// A checked pattern: literal text and `{name}` placeholders, never two placeholders in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    pub text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder(String),
}

impl PathPattern {
    /// Parses `text`, or says what is wrong with it.
    pub fn parse(text: &str) -> Result<PathPattern, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(open) = rest.strip_prefix('{') {
                let Some(end) = open.find('}') else {
                    return Err("a `{` has no closing `}`".into());
                };
                let name = &open[..end];
                let valid =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    return Err(format!(
                        "`{{{name}}}` is not a placeholder: name it with letters, digits and `_`"
                    ));
                }
                if matches!(parts.last(), Some(Part::Placeholder(_))) {
                    return Err(format!(
                        "`{{{name}}}` follows another placeholder, so where one ends is unknown"
                    ));
                }
                if parts.contains(&Part::Placeholder(name.to_string())) {
                    return Err(format!("`{{{name}}}` appears twice"));
                }
                parts.push(Part::Placeholder(name.to_string()));
                rest = &open[end + 1..];
            } else {
                let end = rest.find('{').unwrap_or(rest.len());
                if rest[..end].contains('}') {
                    return Err("a `}` has no opening `{`".into());
                }
                parts.push(Part::Literal(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        if !parts.iter().any(|p| matches!(p, Part::Placeholder(_))) {
            return Err("the pattern has no `{name}` placeholder".into());
        }
        Ok(PathPattern {
            text: text.to_string(),
            parts,
        })
    }

    /// The placeholders' names, in pattern order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(n) => Some(n.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// The context of the file at `path` (relative to its source folder, `/` separators): each
    /// placeholder's text, or none when the path does not match. A placeholder matches one or
    /// more characters, `/` among them, and takes as few as the rest of the pattern allows.
    pub fn context(&self, path: &str) -> Option<Json> {
        let mut found = Map::new();
        matches(&self.parts, path, &mut found).then_some(Json::Object(found))
    }
}

fn matches(parts: &[Part], text: &str, found: &mut Map<String, Json>) -> bool {
    match parts.split_first() {
        None => text.is_empty(),
        Some((Part::Literal(lit), rest)) => text
            .strip_prefix(lit.as_str())
            .is_some_and(|after| matches(rest, after, found)),
        Some((Part::Placeholder(name), rest)) => {
            // Shortest first, so `{owner}__{name}` reads `a__b__c` as `a` and `b__c`.
            let ends = text
                .char_indices()
                .map(|(i, _)| i)
                .skip(1)
                .chain([text.len()]);
            for end in ends {
                if matches(rest, &text[end..], found) {
                    found.insert(name.clone(), Json::String(text[..end].to_string()));
                    return true;
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_what_the_rest_of_the_pattern_leaves() {
        let p = PathPattern::parse("{repo}.json").unwrap();
        assert_eq!(
            p.context("acme/api.json"),
            Some(serde_json::json!({"repo": "acme/api"}))
        );
        assert_eq!(p.context("api.jsonl"), None);
        assert_eq!(p.context(".json"), None);
        let p = PathPattern::parse("{owner}__{name}.json").unwrap();
        assert_eq!(
            p.context("acme__check__out.json"),
            Some(serde_json::json!({"owner": "acme", "name": "check__out"}))
        );
        let p = PathPattern::parse("issues/{issue_id}/events-{page}.json").unwrap();
        assert_eq!(
            p.context("issues/42/events-0001.json"),
            Some(serde_json::json!({"issue_id": "42", "page": "0001"}))
        );
        assert_eq!(p.context("issues/42/page-0001.json"), None);
        let p = PathPattern::parse("{fetch}/{repo}.json").unwrap();
        assert_eq!(
            p.context("0003/acme/api.json"),
            Some(serde_json::json!({"fetch": "0003", "repo": "acme/api"}))
        );
    }

    #[test]
    fn a_pattern_that_cannot_work_is_refused() {
        for (text, why) in [
            ("{repo", "no closing"),
            ("repo}.json", "no opening"),
            ("{}.json", "not a placeholder"),
            ("{a-b}.json", "not a placeholder"),
            ("{a}{b}.json", "follows another"),
            ("{a}/{a}.json", "twice"),
            ("page.json", "no `{name}`"),
        ] {
            let e = PathPattern::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
