use super::*;
use crate::engine::Value;

const FILE: &str = "queries/r.sql";

fn one(line: &str) -> Chart {
    let sql = format!("-- About r.\n{line}\nSELECT 1");
    let mut h = header(FILE, &sql).unwrap_or_else(|p| panic!("{p:?}"));
    assert_eq!(h.paragraphs, ["About r."]);
    h.charts.remove(0)
}

/// The one problem of a declaration, as `weir` prints it.
fn problem(line: &str) -> String {
    let sql = format!("-- About r.\n{line}\nSELECT 1");
    let p = header(FILE, &sql).expect_err("a problem");
    assert_eq!(p.len(), 1, "{p:?}");
    p[0].to_string()
}

#[test]
fn a_declaration_names_kind_columns_and_labels() {
    let c = one(
        r#"-- chart: stacked-bar x=month y=incidents series=service title="Per \"month\"" unit=minutes x-label="Month of 2026""#,
    );
    assert_eq!(c.kind, Kind::StackedBar);
    assert_eq!(c.line, 2);
    assert_eq!(
        c.x,
        Named {
            name: "month".into(),
            column: 25
        }
    );
    assert_eq!(c.y[0].column, 33);
    assert_eq!(c.series.as_ref().unwrap().name, "service");
    assert_eq!(c.title.as_deref(), Some("Per \"month\""));
    assert_eq!(c.unit.as_deref(), Some("minutes"));
    assert_eq!(c.x_label.as_deref(), Some("Month of 2026"));
    let c = one("--chart: line x=m y=a,b");
    assert_eq!(c.kind, Kind::Line);
    assert_eq!(
        c.y,
        [
            Named {
                name: "a".into(),
                column: 21
            },
            Named {
                name: "b".into(),
                column: 23
            }
        ]
    );
    assert_eq!(c.title(), "a, b by m");
}

#[test]
fn the_description_is_the_comment_before_the_sql() {
    let sql = "\n-- First line\n--   goes on.\n--\n-- chart: bar x=a y=b\n-- Second.\n\nSELECT a, b -- not this\n-- nor this\nFROM t";
    let h = header(FILE, sql).unwrap();
    assert_eq!(h.paragraphs, ["First line goes on.", "Second."]);
    assert_eq!(h.charts.len(), 1);
    assert_eq!(header(FILE, "SELECT 1").unwrap(), Header::default());
}

#[test]
fn mistakes_say_where_and_how_to_fix_them() {
    assert_eq!(
        problem("-- chart: lines x=a y=b"),
        "error: queries/r.sql:2:11: unknown chart kind `lines`\n  hint: did you mean `line`?"
    );
    assert_eq!(
        problem("-- chart: pie x=a y=b"),
        "error: queries/r.sql:2:11: unknown chart kind `pie`\n  hint: the kinds are `line`, `bar`, `stacked-bar`"
    );
    assert_eq!(
        problem("-- chart: bar x=a y=b colour=red"),
        "error: queries/r.sql:2:23: unknown key `colour`\n  hint: the keys are `x`, `y`, `series`, `title`, `unit`, `x-label`"
    );
    assert_eq!(
        problem("-- chart: bar x=a y=b tilte=T"),
        "error: queries/r.sql:2:23: unknown key `tilte`\n  hint: did you mean `title`?"
    );
    assert!(
        problem("-- chart: bar y=b")
            .starts_with("error: queries/r.sql:2:18: the chart has no `x=`")
    );
    assert!(problem("-- chart: bar x=a").contains("the chart has no `y=`"));
    assert!(problem("-- chart:").contains("the chart declaration is empty"));
    assert!(problem("-- chart: x=a y=b").contains("starts with its kind"));
    assert!(problem("-- chart: bar x=a y=b x=c").contains("`x` is given twice"));
    assert!(problem("-- chart: bar x=a y=b title").contains("expected `key=value`, found `title`"));
    assert!(problem("-- chart: bar x= y=b").contains("`x=` names no column"));
    assert!(problem("-- chart: bar x=a y=b,,c").contains("`y=` names no column"));
    assert_eq!(
        problem(r#"-- chart: bar x=a y=b title="open"#),
        "error: queries/r.sql:2:29: the quoted value has no closing `\"`\n  hint: close the quote before the end of the line"
    );
    assert!(problem(r#"-- chart: bar x=a y=b title="a"b"#).contains("a blank must follow"));
    assert!(problem(r#"-- chart: bar x=a y=b title=a"b""#).contains("a quote inside a value"));
    assert!(problem(r#"-- chart: bar x=a y=b title="\n""#).contains("unknown escape"));
    assert_eq!(
        problem("-- chart: line x=m y=a,b series=s"),
        "error: queries/r.sql:2:24: with `series=s` a chart draws one y column, not 2\n  hint: keep one y column: each value of `s` becomes a series of it"
    );
    let late = header(FILE, "SELECT 1\n  -- chart: bar x=a y=b").unwrap_err();
    assert_eq!(
        late[0].to_string(),
        "error: queries/r.sql:2:6: a chart declared after the SQL has begun is not read\n  hint: move the line into the header comment, above the first line of SQL"
    );
    // Columns count characters, not bytes.
    assert!(problem("-- chart: bar x=é y=b zz=1").starts_with("error: queries/r.sql:2:23:"));
}

#[test]
fn columns_are_checked_against_the_report() {
    let c = one("-- chart: line x=month y=incidents,custmer_detected");
    let columns: Vec<String> = ["month", "incidents", "customer_detected"]
        .map(String::from)
        .to_vec();
    let p = c.check(FILE, "r", &columns);
    assert_eq!(p.len(), 1);
    assert_eq!(
        p[0].to_string(),
        "error: queries/r.sql:2:36: report `r` returns no column `custmer_detected`\n  hint: did you mean `customer_detected`?"
    );
    let c = one("-- chart: line x=zzz y=incidents");
    assert_eq!(
        c.check(FILE, "r", &columns)[0].hint.as_deref(),
        Some("its columns are `month`, `incidents`, `customer_detected`")
    );
}

fn rows(rows: &[&[Value]]) -> Vec<Vec<Value>> {
    rows.iter().map(|r| r.to_vec()).collect()
}

#[test]
fn rows_become_series_with_gaps_for_null() {
    use Value::{Integer, Null, Real, Text};
    let columns: Vec<String> = ["m", "a", "b"].map(String::from).to_vec();
    let c = one("-- chart: line x=m y=a,b");
    let data = Data::read(
        &c,
        FILE,
        &columns,
        &rows(&[
            &[Text("2026-01".into()), Integer(1), Null],
            &[Text("2026-02".into()), Real(f64::INFINITY), Real(2.5)],
            &[Null, Text(" 3 ".into()), Integer(0)],
        ]),
    )
    .unwrap();
    assert_eq!(data.categories, ["2026-01", "2026-02", "(null)"]);
    assert_eq!(data.series[0].values, [Some(1.0), None, Some(3.0)]);
    assert_eq!(data.series[1].values, [None, Some(2.5), Some(0.0)]);
    let bad = Data::read(
        &c,
        FILE,
        &columns,
        &rows(&[&[Integer(1), Text("x".into()), Null]]),
    );
    assert_eq!(
        bad.unwrap_err().to_string(),
        "error: queries/r.sql:2:22: row 1 of the report has `x` in `a`, which the chart draws: not a number\n  hint: draw a column of numbers, or CAST it in the query"
    );
    let again = Data::read(
        &c,
        FILE,
        &columns,
        &rows(&[&[Integer(1), Null, Null], &[Integer(1), Null, Null]]),
    );
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("rows 1 and 2 of the report both have `m` `1`"),
    );
}

#[test]
fn a_series_column_splits_long_rows() {
    use Value::{Integer, Text};
    let columns: Vec<String> = ["svc", "state", "n"].map(String::from).to_vec();
    let c = one("-- chart: stacked-bar x=svc y=n series=state");
    let t = |s: &str| Text(s.into());
    let data = Data::read(
        &c,
        FILE,
        &columns,
        &rows(&[
            &[t("a"), t("OK"), Integer(2)],
            &[t("a"), t("Alert"), Integer(1)],
            &[t("b"), t("OK"), Integer(4)],
        ]),
    )
    .unwrap();
    assert_eq!(data.categories, ["a", "b"]);
    assert_eq!(data.series.len(), 2);
    assert_eq!(data.series[0].name, "OK");
    assert_eq!(data.series[0].values, [Some(2.0), Some(4.0)]);
    assert_eq!(data.series[1].values, [Some(1.0), None]);
    let again = Data::read(
        &c,
        FILE,
        &columns,
        &rows(&[
            &[t("a"), t("OK"), Integer(2)],
            &[t("a"), t("OK"), Integer(1)],
        ]),
    );
    assert!(
        again
            .unwrap_err()
            .to_string()
            .contains("`svc` `a` and `state` `OK`")
    );
}

#[test]
fn svg_has_a_group_per_series_and_a_shape_per_value() {
    use Value::{Integer, Null, Real, Text};
    let columns: Vec<String> = ["m", "a", "b"].map(String::from).to_vec();
    let r = rows(&[
        &[Text("x".into()), Integer(1), Null],
        &[Text("y".into()), Integer(-2), Real(1e20)],
        &[Text("<z>".into()), Null, Real(0.5)],
    ]);
    for kind in Kind::NAMES {
        let c = one(&format!("-- chart: {kind} x=m y=a,b unit=\"min & s\""));
        let data = Data::read(&c, FILE, &columns, &r).unwrap();
        let svg = svg::render(&c, &data, "c1");
        assert_eq!(svg.matches("<g class=\"series").count(), 2, "{svg}");
        let shape = if kind == "line" {
            "<circle class=\"point\""
        } else {
            "<rect class=\"bar\""
        };
        assert_eq!(svg.matches(shape).count(), 4, "{kind}: {svg}");
        assert!(svg.contains("<title id=\"c1-title\">a, b by m</title>"));
        assert!(svg.contains("min &amp; s"));
        assert!(svg.contains("&lt;z&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }
    // No value at all: the axes and a note.
    let c = one("-- chart: bar x=m y=a");
    let data = Data::read(&c, FILE, &columns, &rows(&[&[Null, Null, Null]])).unwrap();
    assert!(svg::render(&c, &data, "c2").contains("no values to draw"));
    let data = Data::read(&c, FILE, &columns, &[]).unwrap();
    assert!(svg::render(&c, &data, "c3").contains("no values to draw"));
}
