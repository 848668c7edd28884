//! The data docs `weir docs` writes: what the project declares (tables and their comments in
//! schemas/*.sql, the mappers that fill them, the reports that read them) as one model, drawn as
//! an entity-relationship diagram per source (SVG, laid out by layout-rs) and listed in one
//! offline HTML page. It reads text it is given and returns text; files are the command's.

use std::collections::BTreeSet;
use std::fmt::Write;

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::style::StyleAttr;
use layout::std_shapes::render::get_shape_size;
use layout::std_shapes::shapes::{Arrow, Element, RecordDef, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::chart::svg::escape;
use crate::engine::Table;

/// A table with what the docs say about it.
pub struct TableDoc<'a> {
    pub table: &'a Table,
    /// The schema file that declares it.
    pub file: String,
    /// The `--` lines just before its CREATE TABLE.
    pub comment: String,
    /// Per column (in `table.columns` order), its `--` comment.
    pub column_comments: Vec<String>,
    /// The mappers that fill it: (mapper file, raw folder or file).
    pub filled_by: Vec<(String, String)>,
    /// The reports whose query names it.
    pub read_by: Vec<String>,
}

/// One source's diagram: its tables and its parent -> child links.
pub struct Source {
    pub name: String,
    pub mapper: String,
    pub raw: String,
    pub tables: Vec<String>,
    /// (parent table, child table, `child.col = parent.col` pairs).
    pub links: Vec<Link>,
}

pub struct Link {
    pub parent: String,
    pub child: String,
    /// (child column, parent column).
    pub columns: Vec<(String, String)>,
}

/// The comments of the tables a schema file's `text` creates: for each table name (lower case)
/// the `--` lines right before its CREATE TABLE, and for each of `columns` (by name) the `--`
/// text at the end of its line or on the lines right before it inside the statement.
pub fn comments(text: &str, table: &str, columns: &[String]) -> Option<(String, Vec<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        let words: Vec<String> = l.split_whitespace().map(str::to_ascii_lowercase).collect();
        let name = match words.as_slice() {
            [c, t, i, n, e, name, ..]
                if c == "create" && t == "table" && i == "if" && n == "not" && e == "exists" =>
            {
                name
            }
            [c, t, name, ..] if c == "create" && t == "table" => name,
            _ => return false,
        };
        unquote(name.split('(').next().unwrap_or_default()).eq_ignore_ascii_case(table)
    })?;
    let mut before = Vec::new();
    for l in lines[..start].iter().rev() {
        match l.trim().strip_prefix("--") {
            Some(c) => before.push(c.trim()),
            None => break,
        }
    }
    before.reverse();
    let mut column_comments = vec![String::new(); columns.len()];
    let mut pending: Vec<&str> = Vec::new();
    for l in &lines[start + 1..] {
        let (code, comment) = split_comment(l);
        let code = code.trim();
        if code.is_empty() {
            match comment {
                Some(c) => pending.push(c),
                None => pending.clear(),
            }
            continue;
        }
        let first = unquote(code.split([' ', '\t', ',', '(']).next().unwrap_or_default());
        if let Some(i) = columns.iter().position(|c| c.eq_ignore_ascii_case(&first)) {
            let mut all = std::mem::take(&mut pending);
            all.extend(comment);
            column_comments[i] = all.join(" ");
        }
        pending.clear();
        if code.starts_with(')') || code.ends_with(");") {
            break;
        }
    }
    Some((before.join(" "), column_comments))
}

fn unquote(name: &str) -> String {
    name.trim_matches(['"', '`', '[', ']']).to_string()
}

/// A line's code and its `--` comment, if any (a `--` inside a string is no comment).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quoted = None;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match quoted {
            Some(q) if b == q => quoted = None,
            Some(_) => {}
            None if b == b'\'' || b == b'"' => quoted = Some(b),
            None if b == b'-' && bytes.get(i + 1) == Some(&b'-') => {
                return (&line[..i], Some(line[i + 2..].trim()));
            }
            None => {}
        }
    }
    (line, None)
}

/// The identifiers a query's text names, lower case: words and quoted names outside strings
/// and comments. A table is read by a report when its name is one of them (`slos`, never the
/// `slos` inside `slos_target`).
pub fn identifiers(sql: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '-' && next == Some('-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' || c == '"' || c == '`' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if c != '\'' {
                out.insert(
                    chars[start..i.min(chars.len())]
                        .iter()
                        .collect::<String>()
                        .to_lowercase(),
                );
            }
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.insert(chars[start..i].iter().collect::<String>().to_lowercase());
        } else {
            i += 1;
        }
    }
    out
}

/// The diagram of one source: a box per table (its name, then a line per column with its type,
/// keys marked `PK`) and an arrow from each parent to its children, labelled with the link.
pub fn diagram(source: &Source, tables: &[TableDoc<'_>]) -> String {
    let mut graph = VisualGraph::new(Orientation::TopToBottom);
    let look = StyleAttr::new(Color::fast("black"), 1, Some(Color::fast("white")), 4, 13);
    let mut handles = Vec::new();
    for name in &source.tables {
        let Some(doc) = tables.iter().find(|t| &t.table.name == name) else {
            continue;
        };
        let mut fields = vec![RecordDef::new_text(name)];
        let columns = doc.table.columns.iter().map(|c| {
            let key = if c.pk > 0 { " PK" } else { "" };
            let ty = if c.declared.is_empty() {
                "ANY"
            } else {
                &c.declared
            };
            RecordDef::new_text(&format!("{}: {ty}{key}", c.name))
        });
        fields.extend(columns);
        let shape = ShapeKind::new_record(&RecordDef::Array(fields));
        // A record's fields stack along its own orientation: the name on top, a column a line.
        let dir = Orientation::TopToBottom;
        let size = get_shape_size(dir, &shape, look.font_size, false);
        handles.push((
            name.clone(),
            graph.add_node(Element::create(shape, look.clone(), dir, size)),
        ));
    }
    for link in &source.links {
        let find = |n: &str| handles.iter().find(|(t, _)| t == n).map(|(_, h)| *h);
        if let (Some(from), Some(to)) = (find(&link.parent), find(&link.child)) {
            let label: Vec<String> = link
                .columns
                .iter()
                .map(|(c, p)| {
                    if c == p {
                        c.clone()
                    } else {
                        format!("{c} = {p}")
                    }
                })
                .collect();
            graph.add_edge(Arrow::simple(&label.join(", ")), from, to);
        }
    }
    let mut svg = SVGWriter::new();
    graph.do_it(false, false, false, &mut svg);
    // layout-rs sizes its boxes for Times; a sans-serif face of that size fits them too and
    // reads better on a screen.
    let drawn = svg.finalize().replace(
        "font-family: Times, serif;",
        "font-family: system-ui, sans-serif;",
    );
    // An accessible name, and the links in words for a reader that cannot see the picture.
    let mut title = format!(
        "<title>{}: the tables of {}",
        escape(&source.name),
        escape(&source.raw)
    );
    for l in &source.links {
        let _ = write!(title, "; {} -&gt; {}", escape(&l.parent), escape(&l.child));
    }
    title.push_str("</title>\n");
    match drawn
        .find("<svg")
        .and_then(|s| drawn[s..].find('>').map(|e| s + e))
    {
        Some(end) => format!("{}\n{title}{}", &drawn[..=end], &drawn[end + 1..]),
        None => drawn,
    }
}

/// The index page: every source's diagram, then every table with its columns, types, keys and
/// comments, the mappers that fill it and the reports that read it.
pub fn index(sources: &[Source], tables: &[TableDoc<'_>]) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    out.push_str("<title>Data docs</title>\n<style>");
    out.push_str(crate::html::STYLE);
    out.push_str(DOCS_STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>Data docs</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"about\">{} tables from schemas/, {} sources, made by weir {}.</p>",
        tables.len(),
        sources.len(),
        env!("CARGO_PKG_VERSION")
    );
    out.push_str("<nav><ol>");
    for t in tables {
        let n = escape(&t.table.name);
        let _ = write!(out, "<li><a href=\"#table-{n}\">{n}</a></li>");
    }
    out.push_str("</ol></nav>\n</header>\n<main>\n<h2>Sources</h2>\n");
    for s in sources {
        let _ = writeln!(
            out,
            "<section class=\"source\" id=\"source-{n}\">\n<h3>{n}</h3>\n<p class=\"file\">{} from {}</p>\n<figure><img src=\"{n}.svg\" alt=\"The tables of {n} and their links\"></figure>\n</section>",
            escape(&s.mapper),
            escape(&s.raw),
            n = escape(&s.name),
        );
    }
    out.push_str("<h2>Tables</h2>\n");
    for t in tables {
        table(&mut out, t);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn table(out: &mut String, t: &TableDoc<'_>) {
    let n = escape(&t.table.name);
    let _ = writeln!(
        out,
        "<section class=\"table-doc\" id=\"table-{n}\">\n<h3>{n}</h3>"
    );
    let _ = writeln!(out, "<p class=\"file\">{}</p>", escape(&t.file));
    if !t.comment.is_empty() {
        let _ = writeln!(out, "<p class=\"description\">{}</p>", escape(&t.comment));
    }
    let filled = if t.filled_by.is_empty() {
        "No mapper fills it.".to_string()
    } else {
        let each: Vec<String> = t
            .filled_by
            .iter()
            .map(|(m, raw)| {
                format!(
                    "<code>{}</code> from <code>{}</code>",
                    escape(m),
                    escape(raw)
                )
            })
            .collect();
        format!("Filled by {}.", each.join(", "))
    };
    let read = if t.read_by.is_empty() {
        "No report reads it.".to_string()
    } else {
        let each: Vec<String> = t
            .read_by
            .iter()
            .map(|r| format!("<code>{}</code>", escape(r)))
            .collect();
        format!("Read by {}.", each.join(", "))
    };
    let _ = writeln!(out, "<p class=\"lineage\">{filled} {read}</p>");
    out.push_str("<div class=\"table\"><table class=\"data\">\n<thead><tr><th scope=\"col\">column</th><th scope=\"col\">type</th><th scope=\"col\">key</th><th scope=\"col\">null</th><th scope=\"col\">comment</th></tr></thead>\n<tbody>\n");
    for (c, comment) in t.table.columns.iter().zip(&t.column_comments) {
        let key = if c.pk > 0 {
            format!("PK {}", c.pk)
        } else {
            String::new()
        };
        let null = if c.notnull || c.pk > 0 {
            "not null"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"column\"><code>{}</code></td><td>{}</td><td>{key}</td><td>{null}</td><td class=\"comment\">{}</td></tr>",
            escape(&c.name),
            escape(&c.declared),
            escape(comment)
        );
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

/// Beside the report's style: diagrams on a light card, so black on white reads in dark mode.
const DOCS_STYLE: &str = r#"
h3 { margin: 2rem 0 .25rem; font-size: 1.15rem; }
section.source figure { margin: .5rem 0 1rem; overflow-x: auto; }
section.source img { background: #ffffff; border-radius: 6px; padding: .5rem; max-width: 100%; height: auto; }
table.data td.comment { white-space: normal; }
.lineage { margin: .3rem 0; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_whole_words_outside_strings_and_comments() {
        let ids = identifiers(
            "-- reads incidents\nSELECT a.x FROM \"Root_Causes\" a JOIN slos_target t /* slos */ WHERE y = 'slos'",
        );
        assert!(ids.contains("root_causes") && ids.contains("slos_target") && ids.contains("a"));
        assert!(
            !ids.contains("slos") && !ids.contains("incidents"),
            "{ids:?}"
        );
    }

    #[test]
    fn comments_before_a_table_and_beside_its_columns() {
        let sql = "-- other\n\n-- The incidents.\n-- Two lines.\nCREATE TABLE IF NOT EXISTS incidents (\n    -- who\n    -- named it\n    name TEXT NOT NULL, -- the name\n    n BIGINT DEFAULT '--', -- count\n    plain TEXT,\n    PRIMARY KEY (name)\n);\n";
        let columns = vec!["name".to_string(), "n".to_string(), "plain".to_string()];
        let (table, cols) = comments(sql, "incidents", &columns).unwrap();
        assert_eq!(table, "The incidents. Two lines.");
        assert_eq!(cols, ["who named it the name", "count", ""]);
        assert!(comments(sql, "other", &columns).is_none());
    }
}
