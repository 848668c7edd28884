//! SQL functions weir adds to every engine, so that one report runs unchanged on SQLite and
//! DuckDB and gives the same bytes on both: rounding that does not depend on the engine's float
//! printing, instants from the text weir stores, and wall-clock time in an IANA time zone from
//! the time zone database bundled with weir (not the machine's). docs/METRICS.md lists them.

use std::sync::OnceLock;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};

/// The functions, as `(name, number of arguments)`.
pub const NAMES: [(&str, usize); 4] = [
    ("weir_round", 2),
    ("weir_epoch", 1),
    ("weir_local_time", 2),
    ("weir_weekday", 1),
];

/// `weir_round(x, digits)`: `x` rounded to `digits` decimals (0 to 15), half away from zero, on
/// the shortest decimal text that reads back as `x` (so 0.15 gives 0.2, which `ROUND` may not:
/// the double nearest 0.15 is a little below it).
pub fn round(x: f64, digits: i64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let digits = digits.clamp(0, 15) as usize;
    let text = format!("{}", x.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    if fraction.len() <= digits {
        return x;
    }
    // The kept digits as one decimal number, plus one where the first dropped digit is 5 or more.
    let mut kept: Vec<u8> = whole.bytes().chain(fraction[..digits].bytes()).collect();
    if fraction.as_bytes()[digits] >= b'5' {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let split = kept.len() - digits;
    let text = format!(
        "{}.{}",
        String::from_utf8_lossy(&kept[..split]),
        String::from_utf8_lossy(&kept[split..])
    );
    let magnitude: f64 = text.parse().unwrap_or(f64::NAN);
    // -0.04 rounds to 0, not to -0.
    if magnitude == 0.0 {
        0.0
    } else {
        magnitude.copysign(x)
    }
}

/// `weir_epoch(text)`: seconds since 1970-01-01T00:00:00Z of a date `YYYY-MM-DD` (its midnight,
/// UTC) or of a timestamp with an offset (`YYYY-MM-DDTHH:MM:SS[.fff]Z`, as weir stores them).
pub fn epoch(text: &str) -> Result<i64, String> {
    instant(text).map(|t| t.as_second())
}

/// `weir_local_time(text, zone)`: the wall-clock time `YYYY-MM-DDTHH:MM:SS` of the instant in
/// the IANA time zone `zone`, daylight saving applied; an empty zone is UTC. Like every weir
/// function, a NULL argument gives NULL (DuckDB folds a NULL constant argument so), which
/// is why reports write `COALESCE(time_zone, 'UTC')`.
pub fn local_time(text: &str, zone: &str) -> Result<String, String> {
    let at = instant(text)?;
    let tz = match zone.trim() {
        "" => TimeZone::UTC,
        name => time_zones().get(name).map_err(|_| {
            format!(
                "weir_local_time: unknown time zone `{name}`: use an IANA name such as `Europe/Berlin`, or NULL for UTC"
            )
        })?,
    };
    Ok(at
        .to_zoned_datetime(tz)
        .strftime("%Y-%m-%dT%H:%M:%S")
        .to_string())
}

/// `weir_weekday(text)`: the ISO day of the week, 1 (Monday) to 7 (Sunday), of the date that
/// starts the text (`YYYY-MM-DD…`, a date, a timestamp or a `weir_local_time`).
pub fn weekday(text: &str) -> Result<i64, String> {
    let date: Date = text
        .get(..10)
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("weir_weekday: `{text}` does not start with a date YYYY-MM-DD"))?;
    Ok(i64::from(date.weekday().to_monday_one_offset()))
}

fn instant(text: &str) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    match text.parse::<Date>() {
        Ok(d) if text.len() == 10 => d
            .to_zoned_datetime(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| e.to_string()),
        _ => Err(format!(
            "`{text}` is neither a date YYYY-MM-DD nor a timestamp with an offset (YYYY-MM-DDTHH:MM:SSZ)"
        )),
    }
}

/// The time zone database compiled into weir, so a report reads the same on every machine.
fn time_zones() -> &'static TimeZoneDatabase {
    static DB: OnceLock<TimeZoneDatabase> = OnceLock::new();
    DB.get_or_init(TimeZoneDatabase::bundled)
}

/// Adds the functions to a SQLite connection.
pub fn register_sqlite(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    use rusqlite::types::ValueRef;

    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("weir_round", 2, flags, |ctx| {
        let x = match ctx.get_raw(0) {
            ValueRef::Null => return Ok(None),
            ValueRef::Integer(n) => n as f64,
            ValueRef::Real(f) => f,
            _ => {
                return Err(fail(
                    "weir_round: the value to round must be a number".into(),
                ));
            }
        };
        let digits: i64 = ctx.get(1)?;
        Ok(Some(round(x, digits)))
    })?;
    conn.create_scalar_function("weir_epoch", 1, flags, |ctx| {
        sqlite_text(ctx, 0)?
            .map(|t| epoch(&t).map_err(|e| fail(format!("weir_epoch: {e}"))))
            .transpose()
    })?;
    conn.create_scalar_function("weir_local_time", 2, flags, |ctx| {
        match (sqlite_text(ctx, 0)?, sqlite_text(ctx, 1)?) {
            (Some(t), Some(zone)) => local_time(&t, &zone).map(Some).map_err(fail),
            _ => Ok(None),
        }
    })?;
    conn.create_scalar_function("weir_weekday", 1, flags, |ctx| {
        sqlite_text(ctx, 0)?
            .map(|t| weekday(&t).map_err(fail))
            .transpose()
    })?;
    Ok(())
}

fn fail(message: String) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(message.into())
}

/// Argument `i` as text; a number is read as its text.
fn sqlite_text(
    ctx: &rusqlite::functions::Context<'_>,
    i: usize,
) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match ctx.get_raw(i) {
        ValueRef::Null => None,
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Blob(_) => return Err(fail("expected text, found a blob".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_away_from_zero_on_the_decimal_text() {
        for (x, d, want) in [
            (0.15, 1, 0.2),
            (0.25, 1, 0.3),
            (-0.25, 1, -0.3),
            (87.0 / 60.0, 1, 1.5),
            (2.675, 2, 2.68),
            (9.96, 1, 10.0),
            (-0.04, 1, 0.0),
            (1.04, 1, 1.0),
            (12.0, 1, 12.0),
            (99.95, 0, 100.0),
        ] {
            assert_eq!(round(x, d), want, "round({x}, {d})");
        }
        assert!(round(-0.04, 1).is_sign_positive());
    }

    #[test]
    fn instants_local_times_and_weekdays() {
        assert_eq!(epoch("1970-01-02"), Ok(86_400));
        assert_eq!(epoch("2026-11-02T10:20:05.000Z"), Ok(1_793_614_805));
        assert_eq!(epoch("2026-11-02T11:20:05+01:00"), Ok(1_793_614_805));
        assert!(epoch("2026-11").is_err());
        // New York leaves daylight saving at 02:00 local on 2026-11-01: 05:30Z is 01:30 EDT,
        // 06:30Z is 01:30 EST.
        let ny = "America/New_York";
        assert_eq!(
            local_time("2026-11-01T05:30:00Z", ny).unwrap(),
            "2026-11-01T01:30:00"
        );
        assert_eq!(
            local_time("2026-11-01T06:30:00Z", ny).unwrap(),
            "2026-11-01T01:30:00"
        );
        assert_eq!(
            local_time("2026-06-30T23:00:00Z", "Pacific/Tongatapu").unwrap(),
            "2026-07-01T12:00:00"
        );
        assert_eq!(
            local_time("2026-06-30T23:00:00Z", "").unwrap(),
            "2026-06-30T23:00:00"
        );
        assert!(
            local_time("2026-06-30T23:00:00Z", "Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
        assert_eq!(weekday("2026-12-06T10:00:00"), Ok(7));
        assert_eq!(weekday("2026-11-30"), Ok(1));
    }
}
