//! The HTML report: one page that opens from disk with no network. Styles, the table-sorting
//! script and the charts (inline SVG, `chart::svg`) are in the page itself, and nothing in it
//! points at a URL: no font, no CDN, no image file. It only lays out what it is given; running
//! the queries is the command's.

use std::fmt::Write;

use crate::chart::svg::escape;
use crate::chart::{Chart, Data, Header};
use crate::engine::Value;

/// One report on the page.
pub struct Section {
    pub name: String,
    /// The query file, relative to the project root.
    pub file: String,
    pub header: Header,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// Each declared chart with what it draws.
    pub charts: Vec<(Chart, Data)>,
}

/// What the page says about where it came from.
pub struct About {
    /// `warehouse.sqlite (SQLite)`.
    pub database: String,
    /// When it was made, as `2026-12-02 08:05 UTC`.
    pub made: String,
}

/// The earliest and latest date the reports hold, and where.
#[derive(Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub first: String,
    pub last: String,
    /// `report.column` for each column read.
    pub columns: Vec<String>,
}

/// Whether a column holds the dates the page's time range is made of: one named `month` or
/// `date`, or ending in `_month` or `_date`.
pub fn is_date_column(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "month" || name == "date" || name.ends_with("_month") || name.ends_with("_date")
}

/// A date in ISO form (`2026-04`, `2026-04-30`, or a time, which counts by its date).
fn iso_date(v: &Value) -> Option<&str> {
    let Value::Text(t) = v else { return None };
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7)) {
        return None;
    }
    if b.len() == 7 {
        return Some(t);
    }
    (b.get(7) == Some(&b'-') && digits(8..10)).then(|| &t[..10])
}

/// The time range of the data: the earliest and latest ISO date in any date column
/// (`is_date_column`) of any report. Dates compare as text, so `2026-04` comes before
/// `2026-04-01`.
pub fn time_range(sections: &[Section]) -> Option<TimeRange> {
    let mut range: Option<TimeRange> = None;
    for s in sections {
        for (i, column) in s.columns.iter().enumerate() {
            if !is_date_column(column) {
                continue;
            }
            let mut used = false;
            for date in s.rows.iter().filter_map(|r| iso_date(&r[i])) {
                used = true;
                let r = range.get_or_insert_with(|| TimeRange {
                    first: date.to_string(),
                    last: date.to_string(),
                    columns: Vec::new(),
                });
                if date < r.first.as_str() {
                    r.first = date.to_string();
                }
                if date > r.last.as_str() {
                    r.last = date.to_string();
                }
            }
            if used && let Some(r) = &mut range {
                r.columns.push(format!("{}.{column}", s.name));
            }
        }
    }
    range
}

/// `1 report`, `2 reports`.
pub fn count(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// The whole page.
pub fn page(sections: &[Section], about: &About) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<meta name=\"color-scheme\" content=\"light dark\">\n");
    out.push_str("<title>Reliability report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<header>\n<h1>Reliability report</h1>\n");
    let charts: usize = sections.iter().map(|s| s.charts.len()).sum();
    let _ = writeln!(
        out,
        "<p class=\"about\">{} and {} from {}, made {} by weir {}.</p>",
        count(sections.len(), "report"),
        count(charts, "chart"),
        escape(&about.database),
        escape(&about.made),
        env!("CARGO_PKG_VERSION")
    );
    match time_range(sections) {
        Some(r) => {
            let _ = writeln!(
                out,
                "<p class=\"range\">Data from <time>{}</time> to <time>{}</time>: the earliest and latest month or date in the reports ({}).</p>",
                escape(&r.first),
                escape(&r.last),
                escape(&r.columns.join(", "))
            );
        }
        None => out.push_str(
            "<p class=\"range\">No report has a month or date column, so the page gives no time range.</p>\n",
        ),
    }
    out.push_str("<nav><ol>");
    for (i, s) in sections.iter().enumerate() {
        let _ = write!(
            out,
            "<li><a href=\"#report-{}\">{}</a></li>",
            i + 1,
            escape(&s.name)
        );
    }
    out.push_str("</ol></nav>\n</header>\n<main>\n");
    for (i, s) in sections.iter().enumerate() {
        section(&mut out, i + 1, s);
    }
    out.push_str("</main>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn section(out: &mut String, number: usize, s: &Section) {
    let _ = writeln!(
        out,
        "<section id=\"report-{number}\" data-report=\"{}\">\n<h2>{}</h2>\n<p class=\"file\">{} · {} rows</p>",
        escape(&s.name),
        escape(&s.name),
        escape(&s.file),
        s.rows.len()
    );
    for p in &s.header.paragraphs {
        let _ = writeln!(out, "<p class=\"description\">{}</p>", prose(p));
    }
    for (c, (chart, data)) in s.charts.iter().enumerate() {
        let id = format!("report-{number}-chart-{}", c + 1);
        let _ = writeln!(
            out,
            "<figure class=\"chart\">{}</figure>",
            crate::chart::svg::render(chart, data, &id)
        );
    }
    out.push_str("<div class=\"table\"><table class=\"data\">\n<thead><tr>");
    for c in &s.columns {
        let _ = write!(
            out,
            "<th scope=\"col\" aria-sort=\"none\"><button type=\"button\">{}</button></th>",
            escape(c)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut cell = String::new();
    for row in &s.rows {
        out.push_str("<tr>");
        for v in row {
            crate::report::cell(v, &mut cell);
            let class = match v {
                Value::Null => " class=\"null\"",
                Value::Integer(_) | Value::Real(_) => " class=\"n\"",
                Value::Text(_) => "",
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(&cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n</section>\n");
}

/// A description's text, its `code` spans set as code.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut parts = text.split('`');
    out.push_str(&escape(parts.next().unwrap_or("")));
    let rest: Vec<&str> = parts.collect();
    // An odd backtick out has no partner: it stays as written.
    let pairs = rest.len() / 2 * 2;
    for (i, part) in rest.iter().enumerate() {
        if i >= pairs {
            out.push('`');
            out.push_str(&escape(part));
        } else if i % 2 == 0 {
            out.push_str("<code>");
            out.push_str(&escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// Light, dark (`prefers-color-scheme`) and print. The series colours are Okabe and Ito's,
/// told apart by most colour-blind readers; lines also differ by dash, for grey print.
pub(crate) const STYLE: &str = r#"
:root { --bg: #ffffff; --fg: #1d1d1f; --muted: #5c5c66; --rule: #d5d5dc; --stripe: #f4f4f7;
  --s0: #0072b2; --s1: #d55e00; --s2: #009e73; --s3: #cc79a7; --s4: #e69f00; --s5: #56b4e9;
  --s6: #7a7a7a; --s7: #8c6d1f; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16161a; --fg: #e8e8ee; --muted: #a4a4b0; --rule: #3a3a44; --stripe: #1f1f25;
    --s0: #56b4e9; --s1: #ff8c42; --s2: #3fd0a0; --s3: #e89ac7; --s4: #f0c050; --s5: #9ad4f5;
    --s6: #b0b0b0; --s7: #d8b860; }
}
@media print {
  :root { --bg: #ffffff; --fg: #000000; --muted: #333333; --rule: #999999; --stripe: #ffffff;
    --s0: #0072b2; --s1: #d55e00; --s2: #009e73; --s3: #cc79a7; --s4: #e69f00; --s5: #56b4e9;
    --s6: #7a7a7a; --s7: #8c6d1f; }
  nav { display: none; }
  figure.chart { break-inside: avoid; }
  th button { pointer-events: none; }
  .table { overflow: visible; }
  table.data { font-size: .75rem; }
  table.data th, table.data td { white-space: normal; }
  * { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}
html { background: var(--bg); color: var(--fg); }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; max-width: 62rem;
  margin: 0 auto; padding: 1.5rem; }
h1 { margin: 0 0 .25rem; font-size: 1.8rem; }
h2 { margin: 2.5rem 0 .25rem; font-size: 1.35rem; border-top: 1px solid var(--rule); padding-top: 1.5rem; }
.about, .range, .file { color: var(--muted); margin: .2rem 0; }
.file { font-family: ui-monospace, monospace; font-size: .85rem; }
nav ol { columns: 2; padding-left: 1.4rem; }
a { color: var(--s0); }
figure.chart { margin: 1rem 0; }
svg.chart { display: block; width: 100%; max-width: 760px; height: auto; color: var(--fg);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
svg.chart .grid { opacity: .18; }
svg.chart .axis-title { font-weight: 600; }
svg.chart .empty { opacity: .7; }
svg .s0 { color: var(--s0); } svg .s1 { color: var(--s1); } svg .s2 { color: var(--s2); }
svg .s3 { color: var(--s3); } svg .s4 { color: var(--s4); } svg .s5 { color: var(--s5); }
svg .s6 { color: var(--s6); } svg .s7 { color: var(--s7); }
svg .key text { fill: var(--fg); }
svg .s1 .line { stroke-dasharray: 8 3; } svg .s2 .line { stroke-dasharray: 2 3; }
svg .s3 .line { stroke-dasharray: 10 3 2 3; } svg .s5 .line { stroke-dasharray: 5 5; }
svg .point:hover, svg .bar:hover { opacity: .75; }
.table { overflow-x: auto; }
table.data { border-collapse: collapse; font-size: .9rem; margin: 1rem 0; }
table.data th, table.data td { padding: .3rem .7rem; border-bottom: 1px solid var(--rule); text-align: left;
  white-space: nowrap; }
code { font-family: ui-monospace, monospace; font-size: .9em; }
table.data td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.data tbody tr:nth-child(even) { background: var(--stripe); }
table.data th button { font: inherit; font-weight: 600; color: inherit; background: none; border: 0;
  padding: 0; cursor: pointer; }
table.data th[aria-sort="ascending"] button::after { content: " ▲"; }
table.data th[aria-sort="descending"] button::after { content: " ▼"; }
"#;

/// Sorts a table by the column whose header is clicked (again: the other way). Numbers compare
/// as numbers, the rest as text; empty (NULL) cells go last either way.
const SCRIPT: &str = r#"
document.querySelectorAll("table.data").forEach(function (table) {
  var heads = table.querySelectorAll("th");
  heads.forEach(function (th, col) {
    th.querySelector("button").addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col], y = b.cells[col];
        var xn = x.className === "null", yn = y.className === "null";
        if (xn || yn) { return xn === yn ? 0 : (xn ? 1 : -1); }
        var d = x.className === "n" && y.className === "n"
          ? parseFloat(x.textContent) - parseFloat(y.textContent)
          : x.textContent.localeCompare(y.textContent, undefined, { numeric: true });
        return up ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  table.setAttribute("data-sortable", "ready");
});
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, columns: &[&str], rows: Vec<Vec<Value>>) -> Section {
        Section {
            name: name.into(),
            file: format!("queries/{name}.sql"),
            header: Header::default(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
            charts: Vec::new(),
        }
    }

    fn text(t: &str) -> Value {
        Value::Text(t.into())
    }

    #[test]
    fn time_range_reads_date_columns_only() {
        let a = section(
            "a",
            &["month", "label"],
            vec![
                vec![text("2026-05"), text("1999-01")],
                vec![text("2026-04"), text("x")],
            ],
        );
        let b = section(
            "b",
            &["incident_date", "opened_date"],
            vec![
                vec![text("2026-11-30T10:00:00Z"), Value::Null],
                vec![text("not a date"), Value::Integer(2020)],
            ],
        );
        let range = time_range(&[a, b]).unwrap();
        assert_eq!(
            range,
            TimeRange {
                first: "2026-04".into(),
                last: "2026-11-30".into(),
                columns: vec!["a.month".into(), "b.incident_date".into()],
            }
        );
        assert_eq!(
            time_range(&[section("c", &["service"], vec![vec![text("2026-01")]])]),
            None
        );
    }

    #[test]
    fn page_has_no_url_and_escapes_text() {
        let mut s = section(
            "x<y",
            &["a&b"],
            vec![vec![text("<script>")], vec![Value::Null]],
        );
        s.header.paragraphs.push("\"quoted\" & 'single'".into());
        let about = About {
            database: "w.sqlite (SQLite)".into(),
            made: "now".into(),
        };
        let html = page(&[s], &about);
        assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("//"));
        assert!(html.contains("<h2>x&lt;y</h2>"));
        assert!(html.contains("<td>&lt;script&gt;</td>"));
        assert!(html.contains("<td class=\"null\"></td>"));
        assert!(html.contains("&quot;quoted&quot; &amp; &#39;single&#39;"));
        assert_eq!(prose("a `b<` c `d"), "a <code>b&lt;</code> c `d");
        assert_eq!(prose("`x`"), "<code>x</code>");
    }
}
