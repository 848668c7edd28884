//! The CSV of an export: one text for a table's rows, whatever the engine, so its hash is the
//! same on every engine and a reader on the other side gets back exactly what was stored.
//!
//! RFC 4180: a header row of column names, CRLF line ends, UTF-8. Numbers are written as reports
//! write them (`report::cell`: never an exponent, the shortest text that reads back to the same
//! number). A NULL is an empty cell without quotes and an empty text is `""`, as PostgreSQL's
//! `COPY … CSV` writes and reads them (reports write both as an empty cell: a spreadsheet shows
//! no difference, an import must). A text is quoted when it is empty or holds `,`, `"`, CR or LF.
//!
//! The reader is strict, not a general CSV reader: it takes what the writer writes and says where
//! anything else is. It is ours because it must tell a quoted empty cell from an unquoted one,
//! which general readers (the `csv` crate's too) do not report.

use std::io::BufRead;

use crate::engine::Value;

/// Appends the header row.
pub fn header(names: &[&str], out: &mut Vec<u8>) {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        text(name, out);
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends one row; `cell` is scratch space.
pub fn row(values: &[Value], cell: &mut String, out: &mut Vec<u8>) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match v {
            Value::Text(s) => text(s, out),
            other => {
                crate::report::cell(other, cell);
                out.extend_from_slice(cell.as_bytes());
            }
        }
    }
    out.extend_from_slice(b"\r\n");
}

fn text(s: &str, out: &mut Vec<u8>) {
    if s.is_empty() || s.contains([',', '"', '\r', '\n']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// A cell as read: `None` for an empty cell without quotes (NULL).
pub type Cell = Option<String>;

/// Why a record cannot be read, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ReadError {
    pub line: usize,
    pub message: String,
}

/// Reads records written by `header` and `row`.
pub struct Reader<R> {
    inner: R,
    /// The line the next record starts on.
    next: usize,
    /// The line the record last returned started on.
    last: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> Reader<R> {
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            next: 1,
            last: 0,
            buf: Vec::new(),
        }
    }

    /// The line the record last returned started on.
    pub fn line(&self) -> usize {
        self.last
    }

    /// The next record, or `None` at the end of the file.
    pub fn record(&mut self) -> Result<Option<Vec<Cell>>, ReadError> {
        self.buf.clear();
        let start = self.next;
        let refused = |message: String| ReadError {
            line: start,
            message,
        };
        let mut lines = 0;
        loop {
            let n = self
                .inner
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| refused(format!("cannot read: {e}")))?;
            lines += usize::from(n > 0);
            if self.buf.is_empty() {
                return Ok(None);
            }
            match parse(&self.buf).map_err(refused)? {
                Some(cells) => {
                    self.last = start;
                    self.next = start + lines;
                    return Ok(Some(cells));
                }
                None if n > 0 => {}
                None => return Err(refused("a quoted cell is never closed".into())),
            }
        }
    }
}

/// The cells of one record in `rec` (which ends with its line end, or at the end of the file);
/// `None` while a quoted cell runs on past it.
fn parse(rec: &[u8]) -> Result<Option<Vec<Cell>>, String> {
    let end = rec.len();
    let mut cells = Vec::new();
    let mut i = 0;
    // Whether `i` is at the line end that closes the record.
    let closes = |i: usize| {
        i == end
            || (rec[i] == b'\n' && i + 1 == end)
            || (rec[i] == b'\r' && i + 2 == end && rec[i + 1] == b'\n')
    };
    loop {
        let cell = if rec.get(i) == Some(&b'"') {
            i += 1;
            let mut bytes = Vec::new();
            loop {
                match rec.get(i) {
                    None => return Ok(None),
                    Some(b'"') if rec.get(i + 1) == Some(&b'"') => {
                        bytes.push(b'"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        bytes.push(c);
                        i += 1;
                    }
                }
            }
            if !(closes(i) || rec[i] == b',') {
                return Err(format!(
                    "cell {} has text after its closing quote",
                    cells.len() + 1
                ));
            }
            Some(utf8(bytes, cells.len())?)
        } else {
            let from = i;
            while !(closes(i) || rec[i] == b',') {
                if matches!(rec[i], b'"' | b'\r' | b'\n') {
                    return Err(format!(
                        "cell {} holds a quote or a line break without being quoted",
                        cells.len() + 1
                    ));
                }
                i += 1;
            }
            let bytes = &rec[from..i];
            (!bytes.is_empty())
                .then(|| utf8(bytes.to_vec(), cells.len()))
                .transpose()?
        };
        cells.push(cell);
        if closes(i) {
            return Ok(Some(cells));
        }
        // A comma: another cell follows.
        i += 1;
    }
}

fn utf8(bytes: Vec<u8>, index: usize) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|_| format!("cell {} is not UTF-8", index + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Result<Vec<Vec<Cell>>, ReadError> {
        let mut r = Reader::new(bytes);
        let mut out = Vec::new();
        while let Some(rec) = r.record()? {
            out.push(rec);
        }
        Ok(out)
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let rows = vec![
            vec![
                Value::Text("plain".into()),
                Value::Text(String::new()),
                Value::Null,
                Value::Integer(-7),
                Value::Real(2.5),
            ],
            vec![
                Value::Text("a,b".into()),
                Value::Text("say \"hi\"".into()),
                Value::Text("two\r\nlines\nand\rreturn".into()),
                Value::Integer(i64::MAX),
                Value::Real(1e20),
            ],
            vec![
                Value::Null,
                Value::Text(" spaced ".into()),
                Value::Text("é€😀".into()),
                Value::Null,
                Value::Null,
            ],
        ];
        let mut out = Vec::new();
        header(&["a", "b", "c", "d", "e"], &mut out);
        let mut cell = String::new();
        for r in &rows {
            row(r, &mut cell, &mut out);
        }
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("a,b,c,d,e\r\nplain,\"\",,-7,2.5\r\n"),
            "{text}"
        );
        assert!(text.contains(",100000000000000000000\r\n"), "{text}");
        let read = read_all(&out).unwrap();
        assert_eq!(read.len(), 4);
        let want: Vec<Vec<Cell>> = rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::Text(s) => Some(s.clone()),
                        other => {
                            let mut c = String::new();
                            crate::report::cell(other, &mut c);
                            Some(c)
                        }
                    })
                    .collect()
            })
            .collect();
        assert_eq!(read[1..], want[..]);
    }

    #[test]
    fn a_row_of_one_null_is_an_empty_line() {
        let mut out = Vec::new();
        header(&["only"], &mut out);
        row(&[Value::Null], &mut String::new(), &mut out);
        row(&[Value::Text(String::new())], &mut String::new(), &mut out);
        assert_eq!(out, b"only\r\n\r\n\"\"\r\n");
        assert_eq!(
            read_all(&out).unwrap(),
            [
                vec![Some("only".into())],
                vec![None],
                vec![Some(String::new())]
            ]
        );
    }

    #[test]
    fn anything_else_is_refused_with_its_line() {
        let cases: [(&[u8], usize, &str); 5] = [
            (b"a\r\n\"open\r\nstill", 2, "never closed"),
            (b"a\r\nx\"y\r\n", 2, "without being quoted"),
            (b"a\r\nb\r\n\"q\"x\r\n", 3, "after its closing quote"),
            (b"a\r\n\xff\r\n", 2, "not UTF-8"),
            (b"a\r\nb\rc\r\n", 2, "without being quoted"),
        ];
        for (bytes, line, why) in cases {
            let e = read_all(bytes).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains(why), "{e}");
        }
        // A quoted cell may span lines; the next record's line counts them.
        let mut r = Reader::new(&b"a\r\n\"x\r\ny\"\r\nz\"\r\n"[..]);
        r.record().unwrap();
        assert_eq!(r.record().unwrap(), Some(vec![Some("x\r\ny".into())]));
        let e = r.record().unwrap_err();
        assert_eq!(e.line, 4, "{e}");
    }
}
