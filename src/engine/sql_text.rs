//! Reading SQL text where no engine API serves: SQLite keeps a table's CHECK constraints only
//! in its `CREATE TABLE` text, and DuckDB's table text is rebuilt without its primary key.
//! Security never rests on these scanners: reports are checked by the engines' own parsers.
//! The fuzz target `sql_text` runs them on arbitrary text.

use super::Check;

/// Skips white space and comments.
pub(crate) fn skip_blank(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r
                .split_once('\n')
                .map_or("", |(_, after)| after)
                .trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r
                .split_once("*/")
                .map_or("", |(_, after)| after)
                .trim_start();
        } else {
            return rest;
        }
    }
}

/// Where a string, quoted name or comment that starts at `i` of SQL text ends: the index of its
/// last byte (the text's length when it is not closed). None when none starts there.
pub(crate) fn literal_end(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    match bytes.get(i)? {
        &q @ (b'\'' | b'"') => {
            j += 1;
            while j < bytes.len() && bytes[j] != q {
                j += 1;
            }
        }
        b'-' if bytes.get(i + 1) == Some(&b'-') => {
            while j < bytes.len() && bytes[j] != b'\n' {
                j += 1;
            }
        }
        b'/' if bytes.get(i + 1) == Some(&b'*') => {
            j += 2;
            while j + 1 < bytes.len() && !(bytes[j] == b'*' && bytes[j + 1] == b'/') {
                j += 1;
            }
            j += 1;
        }
        _ => return None,
    }
    Some(j)
}

/// Where a string, quoted name or comment of SQLite text that starts at `i` ends: SQLite also
/// quotes names in backticks and brackets.
fn quoted_end(bytes: &[u8], i: usize) -> Option<usize> {
    let close = match bytes.get(i)? {
        b'`' => b'`',
        b'[' => b']',
        _ => return literal_end(bytes, i),
    };
    let after = bytes[i + 1..].iter().position(|&b| b == close);
    Some(after.map_or(bytes.len(), |p| i + 1 + p))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether the keyword `word` stands at `i` of `bytes` as a whole word, in any case.
pub(crate) fn word_at(bytes: &[u8], i: usize, word: &str) -> bool {
    bytes.len() >= i + word.len()
        && bytes[i..i + word.len()].eq_ignore_ascii_case(word.as_bytes())
        && (i == 0 || !is_word(bytes[i - 1]))
        && bytes.get(i + word.len()).is_none_or(|&b| !is_word(b))
}

/// The index of the `)` that closes the `(` at `open` (the text's length when none does).
fn closing_paren(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        if let Some(end) = quoted_end(bytes, i) {
            i = end + 1;
            continue;
        }
        match bytes[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

/// `text` with comments and runs of blanks as one space, none inside parentheses' edges;
/// strings and quoted names as they are.
fn fold(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut blank = false;
    let mut i = 0;
    while i < bytes.len() {
        let comment = bytes[i..].starts_with(b"--") || bytes[i..].starts_with(b"/*");
        if comment || bytes[i].is_ascii_whitespace() {
            blank = true;
            i = if comment {
                quoted_end(bytes, i).map_or(i, |end| end) + 1
            } else {
                i + 1
            };
            continue;
        }
        if blank && !out.is_empty() && !out.ends_with('(') && bytes[i] != b')' {
            out.push(' ');
        }
        blank = false;
        let end = quoted_end(bytes, i).map_or(i, |end| end.min(bytes.len() - 1));
        // Every token boundary here is an ASCII byte, so `end + 1` is a character boundary or
        // the end; a multi-byte character is copied whole.
        let next = (end + 1..=bytes.len())
            .find(|&n| text.is_char_boundary(n))
            .unwrap_or(bytes.len());
        out.push_str(&text[i..next]);
        i = next;
    }
    out
}

/// The column an entry of a column list defines (its first word), none for a table constraint.
fn entry_column(entry: &str) -> Option<String> {
    let entry = skip_blank(entry);
    let bytes = entry.as_bytes();
    let first = *bytes.first()?;
    if matches!(first, b'"' | b'`' | b'[' | b'\'') {
        let end = quoted_end(bytes, 0)?.min(bytes.len());
        return Some(entry.get(1..end)?.replace("\"\"", "\""));
    }
    let word: String = entry
        .chars()
        .take_while(|&c| c.is_alphanumeric() || c == '_')
        .collect();
    let constraint = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(&word));
    (!word.is_empty() && !constraint).then_some(word)
}

/// The CHECK constraints of SQLite's `CREATE TABLE` text, the only place SQLite keeps them:
/// each with its column when it is part of a column's definition, its expression folded.
pub fn check_constraints(sql: &str) -> Vec<Check> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    // Where the current entry of the column list starts: just after `(` or `,`.
    let mut entry = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = quoted_end(bytes, i) {
            i = end + 1;
            continue;
        }
        match bytes[i] {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    entry = i + 1;
                }
            }
            b')' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => entry = i + 1,
            b'C' | b'c' if depth == 1 && word_at(bytes, i, "CHECK") => {
                let open = sql.len() - skip_blank(&sql[i + "CHECK".len()..]).len();
                if bytes.get(open) == Some(&b'(') {
                    let close = closing_paren(bytes, open);
                    out.push(Check {
                        columns: entry_column(&sql[entry..i]).into_iter().collect(),
                        expression: fold(&sql[open + 1..close]),
                    });
                    i = close + 1;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// `CREATE TABLE` text without its primary key: a `[CONSTRAINT n] PRIMARY KEY (…)` entry of the
/// column list goes with its comma; `PRIMARY KEY` after a column's type goes alone. Quoted names,
/// strings, comments and the insides of nested parentheses (CHECK, DEFAULT) are never touched.
/// None when the text declares no primary key. The text is DuckDB's own (`duckdb_tables().sql`),
/// which writes strings in single quotes, never in dollar quotes.
pub fn without_primary_key(sql: &str) -> Option<String> {
    let bytes = sql.as_bytes();
    let word_at = |i: usize, w: &str| word_at(bytes, i, w);
    let skip_space = |i: usize| next_word(sql, i);
    let mut depth = 0;
    // Where the current entry of the column list starts: just after `(` or `,`.
    let mut entry = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(end) = literal_end(bytes, i) {
            i = end + 1;
            continue;
        }
        match bytes[i] {
            b'(' => {
                depth += 1;
                if depth == 1 {
                    entry = i + 1;
                }
            }
            b')' => depth -= 1,
            b',' if depth == 1 => entry = i + 1,
            b'P' | b'p' if depth == 1 && word_at(i, "PRIMARY") => {
                let k = skip_space(i + "PRIMARY".len());
                if !word_at(k, "KEY") {
                    i += 1;
                    continue;
                }
                let after = skip_space(k + "KEY".len());
                let first = skip_space(entry);
                let is_entry =
                    bytes.get(after) == Some(&b'(') && (first == i || word_at(first, "CONSTRAINT"));
                if !is_entry {
                    return Some(format!("{}{}", &sql[..i], &sql[k + "KEY".len()..]));
                }
                return Some(without_entry(sql, entry, closing_paren(bytes, after)));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The place of the first word at or after `i`: white space and comments skipped.
fn next_word(sql: &str, i: usize) -> usize {
    sql.len() - skip_blank(sql.get(i.min(sql.len())..).unwrap_or_default()).len()
}

/// `sql` without the entry of a column list that starts at `entry` and ends at `end`: it goes
/// with the comma before it (or, first in the list, the one after it).
fn without_entry(sql: &str, entry: usize, end: usize) -> String {
    let after = (end + 1).min(sql.len());
    match sql[..entry].rfind(',').filter(|&c| c + 1 == entry) {
        Some(c) => format!("{}{}", &sql[..c], &sql[after..]),
        None => {
            let rest = next_word(sql, after);
            let rest = if sql.as_bytes().get(rest) == Some(&b',') {
                rest + 1
            } else {
                after
            };
            format!("{}{}", &sql[..entry], &sql[rest..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checks(sql: &str) -> Vec<(Vec<String>, String)> {
        check_constraints(sql)
            .into_iter()
            .map(|c| (c.columns, c.expression))
            .collect()
    }

    #[test]
    fn checks_come_out_of_sqlite_table_text_with_their_columns() {
        let sql = "CREATE TABLE t (\n  n INTEGER CHECK ( n  >\n 0 ) -- positive\n, \"a b\" TEXT \
                   CHECK (\"a b\" <> 'CHECK (x)'), [c] TEXT DEFAULT ',' CHECK (c IN ('(', ')')),\n \
                   CONSTRAINT two CHECK (n /* count */ < 10), CHECK(length(c) > 0))";
        let none: Vec<String> = Vec::new();
        assert_eq!(
            checks(sql),
            [
                (vec!["n".to_string()], "n > 0".to_string()),
                (
                    vec!["a b".to_string()],
                    "\"a b\" <> 'CHECK (x)'".to_string()
                ),
                (vec!["c".to_string()], "c IN ('(', ')')".to_string()),
                (none.clone(), "n < 10".to_string()),
                (none, "length(c) > 0".to_string()),
            ]
        );
        assert!(checks("CREATE TABLE t (checked INTEGER, check_me TEXT)").is_empty());
        // Unclosed text of any kind ends the scan without a panic.
        for bad in [
            "CREATE TABLE t (n CHECK (n > 'é",
            "CREATE TABLE t (n CHECK (/*",
            "(CHECK(`",
        ] {
            let _ = check_constraints(bad);
        }
    }

    #[test]
    fn a_primary_key_comes_out_of_the_table_text_and_nothing_else_does() {
        let bare = |sql: &str| without_primary_key(sql).unwrap();
        assert_eq!(
            bare("CREATE TABLE t(id VARCHAR, n BIGINT, PRIMARY KEY(id));"),
            "CREATE TABLE t(id VARCHAR, n BIGINT);"
        );
        assert_eq!(
            bare("CREATE TABLE t (a INT, b INT, CONSTRAINT pk PRIMARY KEY (a, b))"),
            "CREATE TABLE t (a INT, b INT)"
        );
        assert_eq!(
            bare("CREATE TABLE t (PRIMARY KEY (a), a INT)"),
            "CREATE TABLE t ( a INT)"
        );
        assert_eq!(
            bare("CREATE TABLE t (a INT primary  key, b INT)"),
            "CREATE TABLE t (a INT , b INT)"
        );
        // Strings, quoted names and nested parentheses keep their words.
        assert_eq!(
            bare(concat!(
                "CREATE TABLE \"primary key\" (\"PRIMARY KEY\" TEXT CHECK (\"PRIMARY KEY\" <> 'PRIMARY KEY (x)'), ",
                "PRIMARY KEY (\"PRIMARY KEY\"))"
            )),
            "CREATE TABLE \"primary key\" (\"PRIMARY KEY\" TEXT CHECK (\"PRIMARY KEY\" <> 'PRIMARY KEY (x)'))"
        );
        // Comments keep their words too, and their commas do not end an entry.
        assert_eq!(
            bare(
                "CREATE TABLE t (a INT, -- PRIMARY KEY (a), b\n b INT, /* PRIMARY KEY */ PRIMARY KEY (b))"
            ),
            "CREATE TABLE t (a INT, -- PRIMARY KEY (a), b\n b INT)"
        );
        assert_eq!(
            without_primary_key("CREATE TABLE t (primary_key INT)"),
            None
        );
        // Unclosed text ends the scan without a panic.
        assert_eq!(
            bare("CREATE TABLE t (a INT, PRIMARY KEY (a"),
            "CREATE TABLE t (a INT"
        );
        assert_eq!(bare("(PRIMARY KEY (a"), "(");
    }
}
