//! What Excel allows and what a value becomes in a sheet: sheet names, typed cells, column widths.
//! Nothing is written here (`workbook` writes); every rule is a pure function with its tests.

use std::collections::HashSet;

use rust_xlsxwriter::ExcelDateTime;

use crate::engine::Value;

/// Excel's longest sheet name, in UTF-16 units (as Excel counts).
const SHEET_NAME_UNITS: usize = 31;
/// The rows of a sheet, the header's among them.
pub const MAX_ROWS: usize = 1_048_576;
pub const MAX_COLUMNS: usize = 16_384;
/// The longest text a cell holds, in characters.
pub const MAX_TEXT: usize = 32_767;
/// The largest integer Excel shows in full: it keeps 15 significant digits, so a larger one would
/// read back changed. Such integers are written as text.
const MAX_EXACT_INTEGER: i64 = 999_999_999_999_999;
/// Column widths, in characters of the default font.
const MIN_WIDTH: usize = 6;
pub const MAX_WIDTH: usize = 60;

/// Unique sheet names: Excel compares them without case and forbids some.
pub struct SheetNames {
    taken: HashSet<String>,
}

impl SheetNames {
    /// Names nobody else may take: the workbook's own sheets. Excel reserves `History`.
    pub fn new(reserved: &[&str]) -> SheetNames {
        SheetNames {
            taken: reserved
                .iter()
                .chain(&["History"])
                .map(|n| n.to_lowercase())
                .collect(),
        }
    }

    /// A sheet name for `report`: `[]:*?/\` become `_`, an apostrophe may not open or close it, cut
    /// to 31 characters, and a name already taken numbered ` (2)`, ` (3)`, … within those 31.
    pub fn assign(&mut self, report: &str) -> String {
        let clean: String = report
            .chars()
            .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
            .collect();
        let clean = if clean.trim().is_empty() {
            "report".to_string()
        } else {
            clean
        };
        let mut name = fit(&clean, SHEET_NAME_UNITS);
        let mut n = 2;
        while self.taken.contains(&name.to_lowercase()) {
            let suffix = format!(" ({n})");
            name = fit(&clean, SHEET_NAME_UNITS - suffix.len()) + &suffix;
            n += 1;
        }
        self.taken.insert(name.to_lowercase());
        name
    }
}

/// `name` cut to `units` UTF-16 units (never inside a character), with no apostrophe at either end.
fn fit(name: &str, units: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in name.chars() {
        used += c.len_utf16();
        if used > units {
            break;
        }
        out.push(c);
    }
    if out.starts_with('\'') {
        out.replace_range(..1, "_");
    }
    if out.ends_with('\'') {
        out.pop();
        out.push('_');
    }
    out
}

/// How precise a date or time is, which picks its number format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Day,
    Second,
    Millisecond,
}

impl Precision {
    pub fn number_format(self) -> &'static str {
        match self {
            Precision::Day => "yyyy-mm-dd",
            Precision::Second => "yyyy-mm-dd hh:mm:ss",
            Precision::Millisecond => "yyyy-mm-dd hh:mm:ss.000",
        }
    }

    /// The characters the format shows.
    fn width(self) -> usize {
        match self {
            Precision::Day => 10,
            Precision::Second => 19,
            Precision::Millisecond => 23,
        }
    }
}

/// What a value becomes in a cell.
#[derive(Debug, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Number(f64),
    /// Always a string cell, never a formula, whatever it starts with.
    Text(&'a str),
    /// An integer too large for Excel to hold exactly, as its digits.
    Digits(String),
    /// Excel's serial number of a date or time (days since 1899-12-30, as Excel counts them),
    /// shown with the precision's format.
    Date(f64, Precision),
}

impl Cell<'_> {
    /// Its width in characters as shown (the longest line of a text).
    pub fn width(&self) -> usize {
        match self {
            Cell::Empty => 0,
            Cell::Number(f) => {
                let mut text = String::new();
                super::cell(&Value::Real(*f), &mut text);
                text.len()
            }
            Cell::Text(t) => text_width(t),
            Cell::Digits(d) => d.len(),
            Cell::Date(_, p) => p.width(),
        }
    }
}

/// The width of the longest line of `text`, in characters.
pub fn text_width(text: &str) -> usize {
    text.lines().map(|l| l.chars().count()).max().unwrap_or(0)
}

/// A column's width: its widest cell (the header's with room for the filter button), capped.
pub fn column_width(widest: usize) -> f64 {
    (widest + 1).clamp(MIN_WIDTH, MAX_WIDTH) as f64
}

/// The cell of a value. Text is a date only in the forms weir writes: `YYYY-MM-DD`,
/// `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), from 1900 to 9999; any other text,
/// a date Excel cannot show among it, stays text.
pub fn typed(v: &Value) -> Cell<'_> {
    match v {
        Value::Null => Cell::Empty,
        Value::Integer(i) if i.unsigned_abs() <= MAX_EXACT_INTEGER.unsigned_abs() => {
            Cell::Number(*i as f64)
        }
        Value::Integer(i) => Cell::Digits(i.to_string()),
        // The CSV leaves NaN and infinities empty too; -0 reads as 0 there.
        Value::Real(f) if f.is_finite() => Cell::Number(if *f == 0.0 { 0.0 } else { *f }),
        Value::Real(_) => Cell::Empty,
        Value::Text(t) => match datetime(t) {
            Some((date, precision)) => Cell::Date(date, precision),
            None => Cell::Text(t),
        },
    }
}

/// The Excel serial number of the date or time `text` is, in one of the forms `typed` names.
pub fn datetime(text: &str) -> Option<(f64, Precision)> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u16> {
        let part = b.get(range)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')))
    };
    let precision = match b.len() {
        10 => Precision::Day,
        20 => Precision::Second,
        24 => Precision::Millisecond,
        _ => return None,
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-')) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    // rust_xlsxwriter takes 1899-12-31 as day 0, which Excel shows as 1900-01-00.
    if year < 1900 {
        return None;
    }
    // jiff knows the calendar: 2026-02-30 is no date.
    jiff::civil::Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()?;
    let date =
        ExcelDateTime::from_ymd(year, u8::try_from(month).ok()?, u8::try_from(day).ok()?).ok()?;
    if precision == Precision::Day {
        return Some((date.to_excel(), precision));
    }
    if !(at(10, b'T') && at(13, b':') && at(16, b':') && at(b.len() - 1, b'Z')) {
        return None;
    }
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let milli = if precision == Precision::Millisecond {
        if !at(19, b'.') {
            return None;
        }
        digits(20..23)?
    } else {
        0
    };
    // No leap second: Excel has none.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let date = date
        .and_hms_milli(
            hour,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
            milli,
        )
        .ok()?;
    Some((date.to_excel(), precision))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_fit_excel_and_never_repeat() {
        let mut names = SheetNames::new(&["About"]);
        let long = "pagerduty_oncall_load_by_team_and_month";
        assert_eq!(names.assign(long), "pagerduty_oncall_load_by_team_a");
        assert_eq!(names.assign(long), "pagerduty_oncall_load_by_te (2)");
        assert_eq!(
            names.assign(&format!("{long}_2")),
            "pagerduty_oncall_load_by_te (3)"
        );
        assert_eq!(names.assign("about"), "about (2)");
        assert_eq!(names.assign("HISTORY"), "HISTORY (2)");
        assert_eq!(names.assign("a[b]:c*d?e/f\\g"), "a_b__c_d_e_f_g");
        assert_eq!(names.assign("'quoted'"), "_quoted_");
        assert_eq!(names.assign("   "), "report");
        // Cut by UTF-16 units, never inside a character.
        let emoji = "😀".repeat(20);
        assert_eq!(names.assign(&emoji), "😀".repeat(15));
        for name in [long, "x'", "Incidents", "incidents", "INCIDENTS"] {
            let n = names.assign(name);
            assert!(n.encode_utf16().count() <= 31, "{n}");
            assert!(!n.starts_with('\'') && !n.ends_with('\''), "{n}");
        }
        assert_eq!(names.assign("INCIDENTS"), "INCIDENTS (4)");
    }

    #[test]
    fn dates_only_in_the_forms_weir_writes() {
        let serial = datetime;
        assert_eq!(serial("2026-01-01"), Some((46023.0, Precision::Day)));
        // Excel's serials count 1900-02-29, a day that never was (its 1900 leap-year bug).
        assert_eq!(serial("1900-01-01"), Some((1.0, Precision::Day)));
        assert_eq!(serial("1900-03-01"), Some((61.0, Precision::Day)));
        assert_eq!(serial("9999-12-31"), Some((2_958_465.0, Precision::Day)));
        assert_eq!(
            serial("2026-01-01T12:00:00Z"),
            Some((46023.5, Precision::Second))
        );
        let (ms, p) = serial("2026-01-01T00:00:00.500Z").unwrap();
        assert_eq!(p, Precision::Millisecond);
        assert!((ms - (46023.0 + 0.5 / 86_400.0)).abs() < 1e-9, "{ms}");
        for text in [
            "2026-02-30",
            "2026-13-01",
            "1899-12-31",
            "0000-01-01",
            "2026-01-01T24:00:00Z",
            "2026-01-01T23:59:60Z",
            "2026-01-01T00:00:00",
            "2026-01-01 00:00:00Z",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01T00:00:00+01:00",
            "2026-1-01",
            "+026-01-01",
            "２０２６-01-01",
            "2026-01",
            "",
        ] {
            assert_eq!(serial(text), None, "{text}");
        }
    }

    #[test]
    fn values_become_typed_cells() {
        assert_eq!(typed(&Value::Null), Cell::Empty);
        assert_eq!(typed(&Value::Integer(-3)), Cell::Number(-3.0));
        assert_eq!(
            typed(&Value::Integer(999_999_999_999_999)),
            Cell::Number(999_999_999_999_999.0)
        );
        assert_eq!(
            typed(&Value::Integer(i64::MIN)),
            Cell::Digits(i64::MIN.to_string())
        );
        assert_eq!(typed(&Value::Real(-0.0)), Cell::Number(0.0));
        assert_eq!(typed(&Value::Real(1e20)), Cell::Number(1e20));
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert_eq!(typed(&Value::Real(f)), Cell::Empty);
        }
        for t in ["=1+1", "+1", "-1", "@SUM(A1)", "12", "TRUE"] {
            assert_eq!(typed(&Value::Text(t.into())), Cell::Text(t));
        }
        assert_eq!(Cell::Number(1e20).width(), 21);
        assert_eq!(Cell::Text("ab\nabcd").width(), 4);
        assert_eq!(column_width(0), 6.0);
        assert_eq!(column_width(1000), 60.0);
    }
}
