//! A plan as text: the schema file's CREATE TABLE statements and the mapper's YAML, each column
//! with a comment saying what was seen.

use std::sync::LazyLock;

use regex::Regex;

use super::plan::{Child, Column, Plan};

static PLAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z_$][A-Za-z0-9_.$-]*$").expect("the pattern of render.rs is valid")
});

/// Words YAML reads as something other than text.
const YAML_WORDS: &[&str] = &[
    "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
];

/// A YAML scalar for `s`: plain when that reads back as the same text, else double-quoted.
fn scalar(s: &str) -> String {
    let plain = PLAIN.is_match(s)
        && !YAML_WORDS.contains(&s.to_ascii_lowercase().as_str())
        && !s.ends_with('.');
    if plain {
        s.to_string()
    } else {
        serde_json::to_string(s).expect("a string serialises")
    }
}

/// A mapper path for segments: `a.b`, `.` for the element itself, or the list form when a
/// segment holds a dot (or would read as an index or a `$` root).
pub fn path(segments: &[String]) -> String {
    if segments.is_empty() {
        return ".".into();
    }
    if segments[0].starts_with('$') {
        return scalar(&segments.join("."));
    }
    let literal = segments.iter().any(|s| {
        s.is_empty() || s.contains('.') || s.starts_with('$') || s.parse::<usize>().is_ok()
    });
    if literal {
        let parts: Vec<String> = segments
            .iter()
            .map(|s| serde_json::to_string(s).expect("a string serialises"))
            .collect();
        format!("[{}]", parts.join(", "))
    } else {
        scalar(&segments.join("."))
    }
}

/// The schema file.
pub fn sql(plan: &Plan, header: &[String]) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(&format!("-- {line}\n"));
    }
    for table in &plan.tables {
        out.push_str(&format!(
            "\n-- {}\nCREATE TABLE {} (\n",
            table.about, table.name
        ));
        let mut lines: Vec<(String, Option<String>)> = table
            .columns
            .iter()
            .map(|c| (format!("    {} {}", c.name, c.sql), c.note.clone()))
            .collect();
        if !table.key.is_empty() {
            lines.push((format!("    PRIMARY KEY ({})", table.key.join(", ")), None));
        }
        let n = lines.len();
        for (i, (line, note)) in lines.into_iter().enumerate() {
            let comma = if i + 1 < n { "," } else { "" };
            match note {
                Some(note) => out.push_str(&format!("{line}{comma}  -- {note}\n")),
                None => out.push_str(&format!("{line}{comma}\n")),
            }
        }
        out.push_str(");\n");
    }
    out
}

/// The mapper file.
pub fn yaml(plan: &Plan, header: &[String], records: Option<&[String]>) -> String {
    let mut out = String::new();
    for line in header {
        out.push_str(&format!("# {line}\n"));
    }
    if let Some(records) = records {
        out.push_str(&format!("records: {}\n", path(records)));
    }
    let root = &plan.tables[0];
    out.push_str(&format!("table: {}\n", root.name));
    out.push_str(&format!("key: [{}]\n", root.key.join(", ")));
    if let Some(v) = &plan.version {
        out.push_str(&format!("version: {v}\n"));
    }
    if !plan.pii.is_empty() {
        out.push_str("# personal: every column that reads these paths pseudonymises them\n");
        let paths: Vec<String> = plan.pii.iter().map(|p| path(p)).collect();
        out.push_str(&format!("pii: [{}]\n", paths.join(", ")));
    }
    out.push_str("columns:\n");
    columns(&mut out, &root.columns, "  ");
    if !plan.children.is_empty() {
        out.push_str("children:\n");
        children(&mut out, plan, &plan.children, "  ");
    }
    out
}

fn children(out: &mut String, plan: &Plan, children: &[Child], indent: &str) {
    for child in children {
        let table = &plan.tables[child.table];
        out.push_str(&format!("{indent}# {}\n", table.about));
        out.push_str(&format!("{indent}- table: {}\n", table.name));
        out.push_str(&format!("{indent}  each: {}\n", path(&child.each)));
        let link: Vec<String> = child
            .link
            .iter()
            .map(|(c, p)| format!("{c}: {p}"))
            .collect();
        out.push_str(&format!("{indent}  link: {{{}}}\n", link.join(", ")));
        out.push_str(&format!("{indent}  columns:\n"));
        let linked: Vec<&String> = child.link.iter().map(|(c, _)| c).collect();
        let own: Vec<Column> = table
            .columns
            .iter()
            .filter(|c| !linked.contains(&&c.name))
            .cloned()
            .collect();
        columns(out, &own, &format!("{indent}    "));
        if !child.children.is_empty() {
            out.push_str(&format!("{indent}  children:\n"));
            self::children(out, plan, &child.children, &format!("{indent}    "));
        }
    }
}

fn columns(out: &mut String, columns: &[Column], indent: &str) {
    for c in columns {
        let from = path(&c.from);
        let value = if c.conv.is_none() && c.privacy.is_none() {
            from
        } else {
            let mut parts = vec![format!("from: {from}")];
            if let Some(t) = c.conv {
                parts.push(format!("type: {t}"));
            }
            if let Some(p) = c.privacy {
                parts.push(format!("privacy: {p}"));
            }
            format!("{{{}}}", parts.join(", "))
        };
        let line = format!("{indent}{}: {value}", c.name);
        let mut comment = c.seen.clone();
        if let Some(note) = &c.note {
            comment = format!("{comment} ({note})");
        }
        if comment.is_empty() {
            out.push_str(&format!("{line}\n"));
        } else {
            let pad = 44usize.saturating_sub(line.chars().count()).max(1);
            out.push_str(&format!("{line}{}# {comment}\n", " ".repeat(pad)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn paths() {
        assert_eq!(path(&segs(&["a", "b"])), "a.b");
        assert_eq!(path(&[]), ".");
        assert_eq!(path(&segs(&["event.type"])), r#"["event.type"]"#);
        assert_eq!(path(&segs(&["Email Address"])), r#""Email Address""#);
        assert_eq!(path(&segs(&["on"])), r#""on""#);
        assert_eq!(path(&segs(&["$context.repo"])), "$context.repo");
        assert_eq!(path(&segs(&["0"])), r#"["0"]"#);
    }
}
