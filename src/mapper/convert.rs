//! Typed conversions from a raw JSON value to a database `Value`. A value of the wrong kind is
//! an error, never a silent NULL: that is how a vendor's API change gets noticed.

use std::str::FromStr;

use jiff::{Timestamp, civil, tz::TimeZone};
use serde_json::Value as Json;

use crate::engine::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conversion {
    Text,
    Integer,
    Real,
    Boolean,
    Timestamp(Option<Unit>),
    Epoch(Option<Unit>),
    Date,
    Json,
    Join(String),
}

pub const TYPE_NAMES: [&str; 9] = [
    "text",
    "integer",
    "real",
    "boolean",
    "timestamp",
    "epoch",
    "date",
    "json",
    "join",
];

impl Conversion {
    /// The conversion for a `type:` name, or `None` for an unknown name.
    pub fn named(name: &str, unit: Option<Unit>, sep: Option<String>) -> Option<Self> {
        Some(match name {
            "text" => Conversion::Text,
            "integer" => Conversion::Integer,
            "real" => Conversion::Real,
            "boolean" => Conversion::Boolean,
            "timestamp" => Conversion::Timestamp(unit),
            "epoch" => Conversion::Epoch(unit),
            "date" => Conversion::Date,
            "json" => Conversion::Json,
            "join" => Conversion::Join(sep.unwrap_or_else(|| ",".into())),
            _ => return None,
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            Conversion::Text => "text",
            Conversion::Integer => "integer",
            Conversion::Real => "real",
            Conversion::Boolean => "boolean",
            Conversion::Timestamp(_) => "timestamp",
            Conversion::Epoch(_) => "epoch",
            Conversion::Date => "date",
            Conversion::Json => "json",
            Conversion::Join(_) => "join",
        }
    }

    /// Whether the values of this conversion fit a column of the declared type on every engine
    /// (SQLite would take anything; DuckDB would refuse or round).
    pub fn fits(&self, declared: &str) -> bool {
        let ok: &[&str] = match Conversion::for_declared(declared) {
            Conversion::Integer => &["integer", "epoch", "boolean"],
            Conversion::Real => &["real", "integer", "epoch"],
            Conversion::Boolean => &["boolean"],
            Conversion::Timestamp(_) => &["timestamp"],
            Conversion::Date => &["date", "timestamp"],
            _ => return true,
        };
        ok.contains(&self.name())
    }

    /// The default for a column's declared SQL type.
    pub fn for_declared(declared: &str) -> Self {
        let t = declared.to_ascii_uppercase();
        if t.contains("TIMESTAMP") || t.contains("DATETIME") {
            Conversion::Timestamp(None)
        } else if t == "DATE" {
            Conversion::Date
        } else if t.contains("INT") {
            Conversion::Integer
        } else if ["REAL", "DOUBLE", "FLOAT", "NUMERIC", "DECIMAL"]
            .iter()
            .any(|k| t.contains(k))
        {
            Conversion::Real
        } else if t.contains("BOOL") {
            Conversion::Boolean
        } else {
            Conversion::Text
        }
    }

    /// Whether the conversion reads the whole value (no keys below it are "unknown").
    pub fn takes_whole(&self) -> bool {
        matches!(self, Conversion::Json | Conversion::Join(_))
    }

    fn expected(&self) -> &'static str {
        match self {
            Conversion::Text => "text, a number or a boolean",
            Conversion::Integer => "a whole number (or `NaN`)",
            Conversion::Real => "a number (or `NaN`)",
            Conversion::Boolean => "`true` or `false`",
            Conversion::Timestamp(_) | Conversion::Epoch(_) => {
                "a date-time such as `2026-05-01 14:30`, `2026-05-01T14:30:00Z` or `2026-05-01T09:30:00-05:00`"
            }
            Conversion::Date => "a date `YYYY-MM-DD`",
            Conversion::Json => "any value",
            Conversion::Join(_) => "a list of text or numbers",
        }
    }
}

/// How a column reads its raw value, besides its conversion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading<'a> {
    /// `format:` of a timestamp, epoch or date column: a strptime pattern tried before ISO 8601.
    pub format: Option<&'a str>,
    /// The record came from a CSV file, whose cells are all text: `true`/`false` read as
    /// booleans and digits as epoch numbers, which a JSON value must give as such.
    pub text_cells: bool,
}

/// A value that does not fit its conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvError {
    pub message: String,
}

fn describe(v: &Json) -> String {
    let mut s = match v {
        Json::Null => return "null".into(),
        Json::Bool(b) => return format!("the boolean `{b}`"),
        Json::Number(n) => return format!("the number `{n}`"),
        Json::String(s) => format!("the text `{s}`"),
        Json::Array(_) => return "a list".into(),
        Json::Object(_) => return "an object".into(),
    };
    if s.len() > 80 {
        let cut = (0..=77).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(cut);
        s.push_str("…`");
    }
    s
}

fn is_nan_text(s: &str) -> bool {
    matches!(s.trim(), "NaN" | "nan" | "NAN" | ".nan" | ".NaN" | ".NAN")
}

pub fn convert(value: Option<&Json>, conv: &Conversion) -> Result<Value, ConvError> {
    convert_read(value, conv, Reading::default())
}

/// `convert`, reading as `reading` says.
pub fn convert_read(
    value: Option<&Json>,
    conv: &Conversion,
    reading: Reading,
) -> Result<Value, ConvError> {
    let v = match value {
        None | Some(Json::Null) => return Ok(Value::Null),
        Some(v) => v,
    };
    if let Json::String(s) = v {
        if let Some(format) = reading.format
            && let Some(ts) = formatted(s, format)
        {
            return Ok(match conv {
                Conversion::Epoch(_) => Value::Integer(ts.as_second()),
                Conversion::Date => {
                    Value::Text(ts.to_zoned_datetime(TimeZone::UTC).date().to_string())
                }
                _ => Value::Text(timestamp_text(ts)),
            });
        }
        if reading.text_cells
            && let Some(read) = text_cell(s, conv)
        {
            return convert(Some(&read), conv);
        }
    }
    let wrong = |extra: &str| ConvError {
        message: format!("expected {}, found {}{extra}", conv.expected(), describe(v)),
    };
    Ok(match conv {
        Conversion::Text => match v {
            Json::String(s) => Value::Text(s.clone()),
            Json::Number(n) => Value::Text(n.to_string()),
            Json::Bool(b) => Value::Text(b.to_string()),
            _ => return Err(wrong("; to keep it whole, give the column `type: json`")),
        },
        Conversion::Integer => match v {
            Json::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => Value::Integer(i),
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Integer(f as i64),
                _ => return Err(wrong("")),
            },
            Json::String(s) if is_nan_text(s) => Value::Null,
            Json::String(s) => match s.trim().parse::<i64>() {
                Ok(i) => Value::Integer(i),
                Err(_) => return Err(wrong("")),
            },
            _ => return Err(wrong("")),
        },
        Conversion::Real => match v {
            Json::Number(n) => Value::Real(n.as_f64().expect("serde_json numbers convert to f64")),
            Json::String(s) if is_nan_text(s) => Value::Null,
            Json::String(s) => match s.trim().parse::<f64>() {
                Ok(f) if f.is_finite() => Value::Real(f),
                _ => return Err(wrong("")),
            },
            _ => return Err(wrong("")),
        },
        Conversion::Boolean => match v {
            Json::Bool(b) => Value::Integer(i64::from(*b)),
            _ => return Err(wrong("")),
        },
        Conversion::Timestamp(unit) => {
            let ts = timestamp(v, *unit).ok_or_else(|| wrong(&unit_hint(v, *unit)))?;
            Value::Text(timestamp_text(ts))
        }
        Conversion::Epoch(unit) => {
            let ts = timestamp(v, *unit).ok_or_else(|| wrong(&unit_hint(v, *unit)))?;
            Value::Integer(ts.as_second())
        }
        Conversion::Date => date(v).ok_or_else(|| wrong(""))?,
        Conversion::Json => Value::Text(v.to_string()),
        Conversion::Join(sep) => match v {
            Json::Array(items) => join(items, sep)?,
            _ => return Err(wrong("")),
        },
    })
}

/// A CSV cell as the JSON value a conversion takes: `true`/`false` (any case) for a boolean,
/// a whole number for a timestamp with a unit. `None`: read the text as it is.
fn text_cell(s: &str, conv: &Conversion) -> Option<Json> {
    let s = s.trim();
    match conv {
        Conversion::Boolean => match s.to_ascii_lowercase().as_str() {
            "true" => Some(Json::Bool(true)),
            "false" => Some(Json::Bool(false)),
            _ => None,
        },
        Conversion::Timestamp(Some(_)) | Conversion::Epoch(Some(_)) => {
            s.parse::<i64>().ok().map(Json::from)
        }
        _ => None,
    }
}

/// A date-time in a strptime `format` (jiff's): with an offset (`%z`) it is that instant,
/// without one it is read as UTC, as ISO 8601 text without a zone is.
fn formatted(s: &str, format: &str) -> Option<Timestamp> {
    let tm = jiff::fmt::strtime::parse(format, s.trim()).ok()?;
    if tm.offset().is_some() {
        return tm.to_timestamp().ok();
    }
    let dt = tm
        .to_datetime()
        .or_else(|_| tm.to_date().map(|d| d.to_datetime(civil::Time::midnight())))
        .ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// A date: a bare `YYYY-MM-DD` is kept; anything with a time goes through `timestamp`, so the date
/// is the UTC one (jiff's `Date` parser would drop the offset).
fn date(v: &Json) -> Option<Value> {
    let Json::String(s) = v else {
        return None;
    };
    if s.trim().len() == 10 {
        return civil::Date::from_str(s.trim())
            .ok()
            .map(|d| Value::Text(d.to_string()));
    }
    let ts = timestamp(v, None)?;
    Some(Value::Text(
        ts.to_zoned_datetime(TimeZone::UTC).date().to_string(),
    ))
}

/// A list of scalars joined by `sep`; nulls are left out.
fn join(items: &[Json], sep: &str) -> Result<Value, ConvError> {
    let mut parts = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Json::String(s) => parts.push(s.clone()),
            Json::Number(n) => parts.push(n.to_string()),
            Json::Bool(b) => parts.push(b.to_string()),
            Json::Null => {}
            _ => {
                return Err(ConvError {
                    message: format!(
                        "expected a list of text or numbers, found a list holding {}",
                        describe(item)
                    ),
                });
            }
        }
    }
    Ok(Value::Text(parts.join(sep)))
}

/// A timestamp as stored: UTC, always with milliseconds, so that text order is time order and
/// versions less than a second apart do not tie (finer digits are cut).
pub fn timestamp_text(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn unit_hint(v: &Json, unit: Option<Unit>) -> String {
    if v.is_number() && unit.is_none() {
        "; a number needs `unit: s` or `unit: ms` on the column".into()
    } else {
        String::new()
    }
}

/// Reads a date-time: RFC 3339 with any offset, or a civil `YYYY-MM-DD HH:MM[:SS]` read as UTC,
/// or epoch seconds/milliseconds when the column names a unit.
fn timestamp(v: &Json, unit: Option<Unit>) -> Option<Timestamp> {
    match v {
        Json::String(s) => {
            let s = s.trim();
            Timestamp::from_str(s).ok().or_else(|| {
                let dt = civil::DateTime::from_str(s).ok()?;
                // A bare date parses as midnight; require a time so `2026-05-01` is not a guess.
                if !s.contains([' ', 'T', 't']) {
                    return None;
                }
                TimeZone::UTC.to_timestamp(dt).ok()
            })
        }
        Json::Number(n) => match unit? {
            Unit::Seconds => Timestamp::from_second(n.as_i64()?).ok(),
            Unit::Millis => Timestamp::from_millisecond(n.as_i64()?).ok(),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(v: Json, c: Conversion) -> Value {
        convert(Some(&v), &c).unwrap()
    }

    fn err(v: Json, c: Conversion) -> String {
        convert(Some(&v), &c).unwrap_err().message
    }

    #[test]
    fn timestamps_normalise_to_utc() {
        let t = Conversion::Timestamp(None);
        let text = |s: &str| Value::Text(s.into());
        assert_eq!(
            ok(json!("2015-11-06T11:12:51-05:00"), t.clone()),
            text("2015-11-06T16:12:51.000Z")
        );
        assert_eq!(
            ok(json!("2026-05-01 14:30"), t.clone()),
            text("2026-05-01T14:30:00.000Z")
        );
        assert_eq!(
            ok(json!("2026-05-01 14:30:15"), t.clone()),
            text("2026-05-01T14:30:15.000Z")
        );
        assert_eq!(
            ok(json!("2026-05-01 14:30+02:00"), t.clone()),
            text("2026-05-01T12:30:00.000Z")
        );
        assert_eq!(
            ok(json!("2018-11-06T21:19:58.536Z"), t.clone()),
            text("2018-11-06T21:19:58.536Z")
        );
        assert_eq!(
            ok(json!("2023-08-28T13:49:43.016960+00:00"), t.clone()),
            text("2023-08-28T13:49:43.016Z")
        );
        assert_eq!(
            ok(
                json!(1693230583000i64),
                Conversion::Timestamp(Some(Unit::Millis))
            ),
            text("2023-08-28T13:49:43.000Z")
        );
        assert_eq!(
            ok(json!("1970-01-01 00:01"), Conversion::Epoch(None)),
            Value::Integer(60)
        );
        assert!(err(json!("2026-13-01 10:00"), t.clone()).starts_with("expected a date-time"));
        assert!(err(json!("2026-05-01"), t.clone()).contains("found the text `2026-05-01`"));
        assert!(err(json!(1693230583), t).contains("unit: s"));
    }

    #[test]
    fn numbers_accept_numeric_text_and_nan() {
        assert_eq!(ok(json!("150"), Conversion::Integer), Value::Integer(150));
        assert_eq!(ok(json!("NaN"), Conversion::Integer), Value::Null);
        assert_eq!(ok(json!(".nan"), Conversion::Real), Value::Null);
        assert_eq!(ok(json!(3.0), Conversion::Integer), Value::Integer(3));
        assert!(err(json!("many"), Conversion::Integer).contains("found the text `many`"));
        assert!(err(json!(2.5), Conversion::Integer).contains("whole number"));
        assert!(err(json!(true), Conversion::Real).starts_with("expected a number"));
    }

    #[test]
    fn dates_are_utc_and_types_must_fit() {
        let date = |s: &str| convert(Some(&json!(s)), &Conversion::Date).map_err(|e| e.message);
        assert_eq!(
            date("2026-05-01T23:30:00-05:00"),
            Ok(Value::Text("2026-05-02".into()))
        );
        assert_eq!(date("2026-05-01"), Ok(Value::Text("2026-05-01".into())));
        assert!(date("2026-13-01").is_err());
        assert!(Conversion::Text.fits("VARCHAR") && Conversion::Epoch(None).fits("BIGINT"));
        assert!(!Conversion::Text.fits("BIGINT") && !Conversion::Real.fits("INTEGER"));
        assert_eq!(
            Conversion::for_declared("TIMESTAMP"),
            Conversion::Timestamp(None)
        );
        assert_eq!(Conversion::for_declared("DATE"), Conversion::Date);
    }

    #[test]
    fn formats_and_text_cells() {
        let forms = Reading {
            format: Some("%m/%d/%Y %H:%M:%S"),
            text_cells: true,
        };
        let read = |v: Json, c: Conversion, r: Reading| {
            convert_read(Some(&v), &c, r).map_err(|e| e.message)
        };
        let t = Conversion::Timestamp(None);
        assert_eq!(
            read(json!("1/5/2026 9:05:33"), t.clone(), forms),
            Ok(Value::Text("2026-01-05T09:05:33.000Z".into()))
        );
        assert_eq!(
            read(json!("12/31/2025 23:59:59"), Conversion::Date, forms),
            Ok(Value::Text("2025-12-31".into()))
        );
        // ISO 8601 still reads when the format does not match.
        assert_eq!(
            read(json!("2026-04-02T10:00:00Z"), t.clone(), forms),
            Ok(Value::Text("2026-04-02T10:00:00.000Z".into()))
        );
        assert!(read(json!("13/45/2026 9:05:33"), t.clone(), forms).is_err());
        assert_eq!(
            read(json!("TRUE"), Conversion::Boolean, forms),
            Ok(Value::Integer(1))
        );
        assert_eq!(
            read(json!("60"), Conversion::Epoch(Some(Unit::Seconds)), forms),
            Ok(Value::Integer(60))
        );
        // JSON keeps its kinds: text is no boolean there.
        assert!(read(json!("true"), Conversion::Boolean, Reading::default()).is_err());
        assert!(read(json!("yes"), Conversion::Boolean, forms).is_err());
    }

    #[test]
    fn kinds_are_checked() {
        assert!(err(json!({"a": 1}), Conversion::Text).contains("type: json"));
        assert_eq!(
            ok(json!({"a": 1}), Conversion::Json),
            Value::Text("{\"a\":1}".into())
        );
        assert_eq!(
            ok(json!(["a", "b:c", 3]), Conversion::Join(",".into())),
            Value::Text("a,b:c,3".into())
        );
        assert!(err(json!("a"), Conversion::Join(",".into())).contains("list"));
        assert_eq!(ok(json!(false), Conversion::Boolean), Value::Integer(0));
        assert_eq!(
            ok(json!("2026-05-01"), Conversion::Date),
            Value::Text("2026-05-01".into())
        );
        assert_eq!(convert(None, &Conversion::Integer).unwrap(), Value::Null);
    }
}
