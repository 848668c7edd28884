//! `weir report`: output/report.html, checked by what a browser makes of it (headless Chromium:
//! a picture that is not blank, the charts' series and points in the DOM, no console message,
//! no request) and by what the command says when a declaration is wrong.

use std::path::Path;

use crate::chromium;
use crate::harness::Project;

/// The part of the DOM `<section … data-report="name">` holds.
fn section<'a>(dom: &'a str, name: &str) -> &'a str {
    let start = dom
        .find(&format!("data-report=\"{name}\""))
        .unwrap_or_else(|| panic!("no section for report `{name}`"));
    let end = dom[start..].find("</section>").unwrap() + start;
    &dom[start..end]
}

/// The `<svg class="chart">` elements of a part of the DOM.
fn charts(part: &str) -> Vec<&str> {
    part.split("<svg class=\"chart\"")
        .skip(1)
        .map(|c| &c[..c.find("</svg>").unwrap()])
        .collect()
}

/// A count of the series groups, and of the points and bars, of a chart.
fn shapes(chart: &str) -> (usize, usize, usize) {
    (
        chart.matches("<g class=\"series").count(),
        chart.matches("class=\"point\"").count(),
        chart.matches("class=\"bar\"").count(),
    )
}

/// The non-empty cells of the named columns of a CSV report.
fn values(p: &Project, report: &str, columns: &[&str]) -> usize {
    let mut reader = csv::Reader::from_path(p.path(&format!("output/{report}.csv"))).unwrap();
    let header = reader.headers().unwrap().clone();
    let at: Vec<usize> = columns
        .iter()
        .map(|c| header.iter().position(|h| h == *c).unwrap())
        .collect();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            at.iter().filter(|i| !r[**i].is_empty()).count()
        })
        .sum()
}

/// The page names no URL: every link is to a place in the page, nothing is loaded from a
/// `src`, a CSS `url()` or an `@import`.
fn assert_offline(html: &str) {
    for forbidden in [
        "http:", "https:", "src=", "url(", "@import", "<link", "xmlns",
    ] {
        assert!(!html.contains(forbidden), "the page has `{forbidden}`");
    }
    for href in html.split("href=\"").skip(1) {
        assert!(
            href.starts_with('#'),
            "a link out of the page: {}",
            &href[..40.min(href.len())]
        );
    }
}

/// A PNG's width, height, number of distinct colours, most common colour and its share.
fn picture(path: &Path) -> (u32, u32, usize, [u8; 3], f64) {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let step = frame.color_type.samples();
    assert!(step >= 3, "{:?}", frame.color_type);
    let mut counts = std::collections::HashMap::new();
    for px in buf[..frame.buffer_size()].chunks(step) {
        *counts.entry([px[0], px[1], px[2]]).or_insert(0usize) += 1;
    }
    let (common, n) = counts.iter().max_by_key(|(_, n)| **n).unwrap();
    let total = (frame.width * frame.height) as f64;
    (
        frame.width,
        frame.height,
        counts.len(),
        *common,
        *n as f64 / total,
    )
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let browser = chromium::find();
    let p = Project::shipped();
    p.ok(&["run"]);
    let out = p.ok(&["report"]);
    assert_eq!(
        out.stderr,
        "wrote output/report.html (15 reports, 14 charts)\n"
    );
    assert!(out.stdout.is_empty());
    assert!(!p.path("output/.report.html.tmp").exists());
    let page = p.path("output/report.html");
    let html = p.read("output/report.html");
    assert_offline(&html);
    assert!(html.contains("Data from <time>2026-04</time> to <time>2026-11-19</time>"));

    // The detectors catch what they look for: a page that logs and fetches.
    let bad = p.path("output/bad.html");
    std::fs::write(
        &bad,
        "<!DOCTYPE html><img src=\"http://weir.invalid/a.png\"><script>console.error('boom')</script>",
    )
    .unwrap();
    let visit = browser.dump_dom(&bad);
    assert!(
        visit.console.iter().any(|l| l.contains("boom")),
        "{:?}",
        visit.console
    );
    assert_eq!(visit.requests, ["http://weir.invalid/a.png"]);

    let visit = browser.dump_dom(&page);
    assert_eq!(
        visit.console,
        Vec::<String>::new(),
        "the page logged to its console"
    );
    assert_eq!(visit.requests, Vec::<String>::new(), "the page requested");
    let dom = visit.stdout;
    // The sorting script ran on every table.
    assert_eq!(dom.matches("<table class=\"data\"").count(), 15);
    assert_eq!(dom.matches("data-sortable=\"ready\"").count(), 15);
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 14);

    let monthly = charts(section(&dom, "incident_monthly"));
    assert_eq!(monthly.len(), 3);
    let counts = values(&p, "incident_monthly", &["incidents", "customer_detected"]);
    assert_eq!(counts, 16);
    assert_eq!(shapes(monthly[0]), (2, counts, 0));
    assert!(
        monthly[0].contains("<title id=\"report-4-chart-1-title\">Incidents per month</title>")
    );
    assert!(monthly[0].contains("role=\"img\""));
    let split = values(
        &p,
        "incident_monthly",
        &["internally_detected", "customer_detected"],
    );
    assert_eq!(shapes(monthly[1]), (2, 0, split));
    // Every service has means in the sample: a bar per service and mean (NULL would be a gap).
    let health = charts(section(&dom, "pagerduty_service_health"));
    let means = ["mean_minutes_to_acknowledge", "mean_minutes_to_resolve"];
    assert_eq!(values(&p, "pagerduty_service_health", &means), 14);
    assert_eq!(shapes(health[0]), (2, 0, 14));
    // Long rows split by `series=`: one series per monitor state, a bar per row.
    let coverage = charts(section(&dom, "datadog_monitor_coverage"));
    assert_eq!(shapes(coverage[0]), (4, 0, 15));
    // The survey: a line per question (series=), a point per quarter.
    let survey = charts(section(&dom, "developer_survey_trends"));
    assert_eq!(shapes(survey[0]), (3, 9, 0));
    // Reports without a declaration have only their table.
    assert!(charts(section(&dom, "github_repo_ownership")).is_empty());

    for dark in [false, true] {
        let png = p.path(if dark { "dark.png" } else { "light.png" });
        let visit = browser.screenshot(&page, &png, 2400, dark);
        assert!(visit.console.is_empty() && visit.requests.is_empty());
        let (width, height, colours, common, share) = picture(&png);
        assert_eq!((width, height), (1000, 2400));
        assert!(colours > 100, "{colours} colours: a blank page?");
        assert!(
            share < 0.97,
            "{share} of the picture is one colour: a blank page?"
        );
        let light = common.iter().all(|c| *c > 230);
        let darkish = common.iter().all(|c| *c < 40);
        assert!(
            if dark { darkish } else { light },
            "dark {dark}: background {common:?}"
        );
    }
}

#[test]
fn html_report_declarations_are_checked_before_anything_is_written() {
    let p = Project::fixture("empty");
    p.ok(&["initialize"]);
    p.write(
        "queries/zz_typo.sql",
        "-- A typo.\n-- chart: lines x=a y=b\nSELECT 1 AS a, 2 AS b",
    );
    p.write(
        "queries/zz_column.sql",
        "-- A column it lacks.\n-- chart: bar x=a y=b,total unit=\"s\"\nSELECT 1 AS a, 2 AS b",
    );
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_typo.sql:2:11: unknown chart kind `lines`
      hint: did you mean `line`?
    ");
    assert!(!p.path("output/report.html").exists());
    p.write(
        "queries/zz_typo.sql",
        "-- Fixed.\n-- chart: line x=a y=b\nSELECT 1 AS a, 'x' AS b",
    );
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: queries/zz_column.sql:2:23: report `zz_column` returns no column `total`
      hint: its columns are `a`, `b`
    error: queries/zz_typo.sql:2:22: row 1 of the report has `x` in `b`, which the chart draws: not a number
      hint: draw a column of numbers, or CAST it in the query
    note: output/report.html was not written
    2 problems
    ");
    assert!(!p.path("output/report.html").exists());
    // validate finds both the syntax and the missing column, with no data loaded.
    p.write(
        "queries/zz_typo.sql",
        "-- chart: pie x=a y=b\nSELECT 1 AS a",
    );
    let out = p.weir(&["validate"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("queries/zz_column.sql:2:23: report `zz_column` returns no column `total`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("queries/zz_typo.sql:1:11: unknown chart kind `pie`"),
        "{}",
        out.stderr
    );
}

#[test]
fn html_report_names_reports_and_needs_a_database() {
    let p = Project::fixture("empty");
    let out = p.weir(&["report"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(out.stderr, @r"
    error: warehouse.sqlite: the database does not exist
      hint: make it with `weir run` (or `weir initialize` and `weir run-etl`), then `weir report`
    ");
    let out = p.weir(&["--in-memory", "report"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("an in-memory database is empty"),
        "{}",
        out.stderr
    );
    p.ok(&["initialize"]);
    let out = p.weir(&["report", "incident_montly"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("did you mean `incident_monthly`?"),
        "{}",
        out.stderr
    );
    let out = p.ok(&["report", "root_cause_ranking"]);
    assert_eq!(out.stderr, "wrote output/report.html (1 report, 1 chart)\n");
    let html = p.read("output/report.html");
    // No rows: the chart says there is nothing to draw, and no time range is made up.
    assert!(html.contains("no values to draw"));
    assert!(html.contains("No report has a month or date column"));
}
