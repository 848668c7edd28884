//! Spreadsheet raw files: `*.csv`/`*.tsv` (RFC 4180) and `*.xlsx` -> one record per row, a JSON
//! object of header -> cell, with the place of every cell. Mapping is parse.rs's business.
//!
//! An empty cell is `null`, never `""`: a spreadsheet's empty cell holds no value, so a
//! `required` column reports it and a typed column does not fail on it.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde_json::{Map, Value as Json};

use crate::error::{Diagnostic, Location, did_you_mean};
use crate::yaml::{Spans, push_pointer};

/// One row as a record: its line (CSV) or row number (XLSX), and where each cell is.
pub(super) struct Row {
    pub(super) record: Json,
    pub(super) line: usize,
    pub(super) spans: Spans,
}

type OnRow<'f> = dyn FnMut(Result<Row, Diagnostic>) + 'f;

/// A header cell: its name and place.
struct Column {
    name: String,
    at: (usize, usize),
}

/// The header row's names, checked: a repeated name is a problem (two cells of a row would
/// become one field); an empty one is kept only while its cells are empty.
fn header(file: &str, cells: Vec<Column>) -> Result<Vec<Column>, Box<Diagnostic>> {
    for (i, c) in cells.iter().enumerate() {
        if c.name.is_empty() {
            continue;
        }
        if let Some(first) = cells[..i].iter().find(|o| o.name == c.name) {
            return Err(Box::new(
                Diagnostic::new(format!(
                    "the header names `{}` twice (also at {}:{}), so its cells would be one field",
                    c.name, first.at.0, first.at.1
                ))
                .at(Location::at(file, c.at.0, c.at.1))
                .hint("give every column of the first row its own name"),
            ));
        }
    }
    Ok(cells)
}

/// A data row -> its record, or the problem of a cell that has no header.
fn record(
    file: &str,
    header: &[Column],
    cells: Vec<(Json, (usize, usize))>,
    line: usize,
) -> Option<Result<Row, Diagnostic>> {
    if cells.iter().all(|(v, _)| v.is_null()) {
        // A blank row: spreadsheets export them below the data.
        return None;
    }
    let mut spans = Spans::default();
    spans.insert_node("", (line, 1));
    let mut map = Map::with_capacity(header.len());
    for (i, (value, at)) in cells.into_iter().enumerate() {
        let name = header.get(i).map_or("", |c| c.name.as_str());
        if name.is_empty() {
            if value.is_null() {
                continue;
            }
            let why = if i < header.len() {
                "its column has no name in the header".to_string()
            } else {
                format!("the header has only {} columns", header.len())
            };
            return Some(Err(Diagnostic::new(format!(
                "a cell holds a value, but {why}"
            ))
            .at(Location::at(file, at.0, at.1))
            .hint("name the column in the first row, or clear the cell")));
        }
        let mut pointer = String::new();
        push_pointer(&mut pointer, name);
        spans.insert_node(&pointer, at);
        spans.insert_key(&pointer, header[i].at);
        map.insert(name.to_string(), value);
    }
    Some(Ok(Row {
        record: Json::Object(map),
        line,
        spans,
    }))
}

/// The cell separator of a CSV text: the one of `,` `;` tab seen most often outside quotes in
/// its first line (`,` on a tie or when none is).
pub(super) fn detect_delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    [b',', b';', b'\t'][best]
}

/// Where each cell of a record starts, as line and column, and where a quote that never closes
/// opens (the csv crate reads such a cell to the end of the file without complaint).
struct Places {
    cells: Vec<(usize, usize)>,
    open_quote: Option<(usize, usize)>,
}

/// The places of the record in `raw` (its text from its first byte, which starts line `line`);
/// RFC 4180 quoting.
fn cell_places(raw: &str, line: usize, delimiter: u8) -> Places {
    let mut places = vec![(line, 1)];
    let mut open_quote = None;
    let (mut l, mut c) = (line, 1);
    let mut quoted = false;
    let mut at_start = true;
    let mut chars = raw.chars().peekable();
    while let Some(ch) = chars.next() {
        if quoted {
            if ch == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    c += 1;
                } else {
                    quoted = false;
                }
            }
        } else if ch == '"' && at_start {
            quoted = true;
            open_quote = Some((l, c));
        } else if ch.is_ascii() && ch as u8 == delimiter {
            places.push((l, c + 1));
            at_start = true;
            c += 1;
            continue;
        } else if ch == '\n' {
            break;
        }
        at_start = false;
        if ch == '\n' {
            l += 1;
            c = 1;
        } else {
            c += 1;
        }
    }
    Places {
        cells: places,
        open_quote: open_quote.filter(|_| quoted),
    }
}

/// Reads `text` (UTF-8, its byte order mark removed) as CSV, handing over each row in order.
/// The text is read record by record: memory follows the longest row, not the file.
pub(super) fn csv_rows(file: &str, text: &str, delimiter: u8, f: &mut OnRow) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let mut columns: Option<Vec<Column>> = None;
    loop {
        match reader.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let at = match e.position() {
                    Some(p) => Location::at(file, p.line() as usize, 1),
                    None => Location::file(file),
                };
                f(Err(Diagnostic::new(format!("invalid CSV: {e}"))
                    .at(at)
                    .hint("save the file as CSV (RFC 4180)")));
                return;
            }
        }
        let Some(start) = rec.position() else {
            continue;
        };
        // The reader may place a record at the end of the line break before it (`\n` of `\r\n`).
        let mut line = start.line() as usize;
        let mut from = start.byte() as usize;
        while let Some(b @ (b'\r' | b'\n')) = text.as_bytes().get(from) {
            line += usize::from(*b == b'\n');
            from += 1;
        }
        let to = (reader.position().byte() as usize).min(text.len());
        let places = cell_places(text.get(from..to).unwrap_or(""), line, delimiter);
        if let Some((l, c)) = places.open_quote {
            f(Err(Diagnostic::new(
                "invalid CSV: a quoted cell opens here and its closing `\"` never comes",
            )
            .at(Location::at(file, l, c))
            .hint(
                "close the quote, or write a quote inside a quoted cell as `\"\"`",
            )));
            return;
        }
        let places = places.cells;
        let place = |i: usize| places.get(i).copied().unwrap_or((line, 1));
        match &columns {
            None => {
                let cells = rec
                    .iter()
                    .enumerate()
                    .map(|(i, name)| Column {
                        name: name.to_string(),
                        at: place(i),
                    })
                    .collect();
                match header(file, cells) {
                    Ok(h) => columns = Some(h),
                    Err(d) => return f(Err(*d)),
                }
            }
            Some(h) => {
                let cells = rec
                    .iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        let v = if cell.is_empty() {
                            Json::Null
                        } else {
                            Json::String(cell.to_string())
                        };
                        (v, place(i))
                    })
                    .collect();
                if let Some(row) = record(file, h, cells, line) {
                    f(row);
                }
            }
        }
    }
}

/// Reads one sheet of an `*.xlsx` workbook (`sheet`, else the first), each cell as the sheet
/// typed it. A sheet is read whole: workbooks are zipped XML that cannot be read row by row.
pub(super) fn xlsx_rows(file: &str, bytes: Vec<u8>, sheet: Option<&str>, f: &mut OnRow) {
    let unreadable = |e: &dyn std::fmt::Display| {
        Diagnostic::new(format!("cannot read the workbook: {e}"))
            .at(Location::file(file))
            .hint("save it as an Excel workbook (.xlsx)")
    };
    let mut book: Xlsx<_> = match Xlsx::new(Cursor::new(bytes)) {
        Ok(b) => b,
        Err(e) => return f(Err(unreadable(&e))),
    };
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_string(),
        Some(s) => {
            let mut d = Diagnostic::new(format!("the workbook has no sheet `{s}`"))
                .at(Location::file(file));
            d.hint = did_you_mean(s, names.iter().map(String::as_str)).or_else(|| {
                let all: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                Some(format!(
                    "its sheets are {}; fix `sheet:` in the mapper",
                    all.join(", ")
                ))
            });
            return f(Err(d));
        }
        None => match names.first() {
            Some(n) => n.clone(),
            None => return f(Err(unreadable(&"it has no sheets"))),
        },
    };
    let range = match book.worksheet_range(&name) {
        Ok(r) => r,
        Err(e) => return f(Err(unreadable(&e))),
    };
    let Some((top, left)) = range.start() else {
        return;
    };
    let place = |r: usize, c: usize| (top as usize + r + 1, left as usize + c + 1);
    let mut columns: Option<Vec<Column>> = None;
    for (r, cells) in range.rows().enumerate() {
        let Some(h) = &columns else {
            let cells = cells
                .iter()
                .enumerate()
                .map(|(c, cell)| Column {
                    name: match cell {
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    },
                    at: place(r, c),
                })
                .collect();
            match header(file, cells) {
                Ok(h) => columns = Some(h),
                Err(d) => return f(Err(*d)),
            }
            continue;
        };
        let mut values = Vec::with_capacity(cells.len());
        for (c, cell) in cells.iter().enumerate() {
            match cell_value(cell) {
                Ok(v) => values.push((v, place(r, c))),
                Err(why) => {
                    let (l, col) = place(r, c);
                    f(Err(Diagnostic::new(why)
                        .at(Location::at(file, l, col))
                        .hint("fix the formula in the sheet, or clear the cell")));
                    values.clear();
                    break;
                }
            }
        }
        if values.is_empty() {
            continue;
        }
        if let Some(row) = record(file, h, values, place(r, 0).0) {
            f(row);
        }
    }
}

/// A cell as the sheet typed it: numbers as JSON numbers (whole ones as integers), booleans,
/// date-times as ISO 8601 text `YYYY-MM-DDTHH:MM:SS[.mmm]` (no zone; a date alone is its
/// midnight), durations as ISO 8601 `PT…S`; an empty cell is null.
fn cell_value(cell: &Data) -> Result<Json, String> {
    Ok(match cell {
        Data::Empty => Json::Null,
        Data::String(s) if s.is_empty() => Json::Null,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Json::String(s.clone()),
        Data::Int(i) => Json::from(*i),
        Data::Float(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Json::from(*x as i64),
        Data::Float(x) => serde_json::Number::from_f64(*x).map_or(Json::Null, Json::Number),
        Data::Bool(b) => Json::Bool(*b),
        Data::DateTime(d) if d.is_duration() => {
            let seconds = (d.as_f64() * 86_400_000.0).round() / 1000.0;
            Json::String(format!("PT{seconds}S"))
        }
        Data::DateTime(d) => {
            let (y, mo, day, h, mi, s, ms) = d.to_ymd_hms_milli();
            let mut text = format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}");
            if ms > 0 {
                text.push_str(&format!(".{ms:03}"));
            }
            Json::String(text)
        }
        Data::Error(e) => return Err(format!("the cell holds the spreadsheet error `{e}`")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_detected_outside_quotes() {
        assert_eq!(detect_delimiter("a;b;c\n1,2;3;4\n"), b';');
        assert_eq!(detect_delimiter("\"a;b;c\",d\n"), b',');
        assert_eq!(detect_delimiter("a\tb\n"), b'\t');
        assert_eq!(detect_delimiter("one\n"), b',');
    }

    #[test]
    fn cells_are_placed_by_line_and_column() {
        let cells = |raw, line| cell_places(raw, line, b',').cells;
        assert_eq!(cells("a,\"b\"\"c\",d\n", 3), vec![(3, 1), (3, 3), (3, 10)]);
        assert_eq!(cells("\"x\ny\",z\r\n", 2), vec![(2, 1), (3, 4)]);
    }

    #[test]
    fn a_quote_that_never_closes_is_found_where_it_opens() {
        assert_eq!(
            cell_places("a,\"b\nc,d\n", 4, b',').open_quote,
            Some((4, 3))
        );
        assert_eq!(cell_places("a,\"b\"\"\",c\n", 4, b',').open_quote, None);
    }
}
