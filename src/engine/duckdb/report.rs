//! Reports on DuckDB: a report is checked to be exactly one SELECT by DuckDB's own parser before
//! any of it runs, then read row by row, or written as Parquet by a COPY around it; once the
//! engine is read-only, each runs in a read-only transaction of its own.

use std::path::Path;

use super::{DuckDb, from_duckdb, sql_error};
use crate::engine::{QueryError, RowSink, SqlError, Value};

impl DuckDb {
    /// Runs `f` in a read-only transaction, rolled back after, once `read_only` ran: whatever a
    /// report runs cannot change the database, and a failed report leaves no aborted
    /// transaction to the next.
    pub(super) fn reading<T, E: From<SqlError>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if !self.reports_only {
            return f();
        }
        self.conn
            .execute_batch("BEGIN TRANSACTION READ ONLY")
            .map_err(|e| E::from(sql_error(e)))?;
        let result = f();
        // A failed rollback leaves the transaction to be discarded with the connection.
        let _ = self.conn.execute_batch("ROLLBACK");
        result
    }

    pub(super) fn report_rows(&self, sql: &str, sink: &mut dyn RowSink) -> Result<(), QueryError> {
        let sql_err = |e: duckdb::Error| QueryError::Sql(sql_error(e));
        self.one_select(sql).map_err(QueryError::Sql)?;
        let mut stmt = self.conn.prepare(sql).map_err(sql_err)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        let names: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        // A column of untyped NULLs (`SELECT NULL AS x`) has Arrow's Null type, which the
        // crate's row reader does not take: every value of it is NULL.
        let untyped: Vec<bool> = (0..names.len())
            .map(|i| {
                rows.as_ref()
                    .is_some_and(|s| s.column_type(i) == duckdb::arrow::datatypes::DataType::Null)
            })
            .collect();
        sink.header(&names).map_err(QueryError::Sink)?;
        let mut values = Vec::with_capacity(names.len());
        while let Some(row) = rows.next().map_err(sql_err)? {
            values.clear();
            for (i, name) in names.iter().enumerate() {
                if untyped[i] {
                    values.push(Value::Null);
                    continue;
                }
                let value = from_duckdb(row.get_ref(i).map_err(sql_err)?).map_err(|message| {
                    QueryError::Sql(SqlError {
                        message: format!("column `{name}`: {message}"),
                        offset: None,
                    })
                })?;
                values.push(value);
            }
            sink.row(&values).map_err(QueryError::Sink)?;
        }
        Ok(())
    }

    pub(super) fn report_parquet(&self, sql: &str, path: &Path) -> Result<(), QueryError> {
        // Checked and prepared alone first, so a mistake in it is reported as the query's, not
        // the COPY's.
        self.one_select(sql).map_err(QueryError::Sql)?;
        self.conn
            .prepare(sql)
            .map_err(|e| QueryError::Sql(sql_error(e)))?;
        let query = self
            .without_closing_semicolon(sql)
            .map_err(QueryError::Sql)?;
        let target = path.to_string_lossy().replace('\'', "''");
        // The line break ends a comment the query may close with.
        let copy = format!("COPY ({query}\n) TO '{target}' (FORMAT parquet)");
        self.conn
            .execute_batch(&copy)
            .map_err(|e| QueryError::Sql(sql_error(e)))
    }
}

/// How DuckDB's parser reads a report: `json_serialize_sql` parses the text as preparing it
/// would and serialises it only when every statement in it is a SELECT.
#[derive(Debug, PartialEq)]
enum Parsed {
    Selects(Vec<serde_json::Value>),
    NotSelect,
    /// DuckDB's message and the byte offset it points at.
    Invalid(String, Option<usize>),
}

impl DuckDb {
    fn parse(&self, sql: &str) -> Result<Parsed, SqlError> {
        let text: String = self
            .conn
            .query_row("SELECT json_serialize_sql(?::VARCHAR)", [sql], |r| r.get(0))
            .map_err(sql_error)?;
        let mut json: serde_json::Value = serde_json::from_str(&text).map_err(|e| SqlError {
            message: format!("cannot read DuckDB's parse of the query: {e}"),
            offset: None,
        })?;
        if json["error"] != true {
            let statements = json["statements"].take();
            return Ok(Parsed::Selects(match statements {
                serde_json::Value::Array(list) => list,
                _ => Vec::new(),
            }));
        }
        if json["error_type"] != "parser" {
            return Ok(Parsed::NotSelect);
        }
        let message = json["error_message"].as_str().unwrap_or_default();
        let offset = json["position"].as_str().and_then(|p| p.parse().ok());
        Ok(Parsed::Invalid(format!("Parser Error: {message}"), offset))
    }

    /// Checks that a report is exactly one SELECT statement before any of it runs: the duckdb
    /// crate's `prepare` runs every statement but the last, so no hand-written scanner (which
    /// would have to know DuckDB's dollar quotes, `$$…$$` and `$tag$…$tag$`) decides this.
    pub(super) fn one_select(&self, sql: &str) -> Result<(), SqlError> {
        match self.parse(sql)? {
            Parsed::Selects(list) if list.len() == 1 => Ok(()),
            Parsed::Selects(list) if list.is_empty() => Err(SqlError {
                message: "the report holds no statement; write a SELECT".into(),
                offset: None,
            }),
            Parsed::Selects(_) => Err(crate::engine::one_statement()),
            Parsed::NotSelect => Err(crate::engine::must_only_read()),
            Parsed::Invalid(message, offset) => Err(SqlError { message, offset }),
        }
    }

    /// `sql`, one checked SELECT, without the `;` that may close it (COPY wraps it in
    /// parentheses): the last `;` with only blanks and comments after it goes when DuckDB parses
    /// the text without it to the very same statement, so a `;` inside a string stays.
    fn without_closing_semicolon(&self, sql: &str) -> Result<String, SqlError> {
        let Some(semicolon) = sql
            .rmatch_indices(';')
            .map(|(i, _)| i)
            .find(|&i| crate::engine::skip_blank(&sql[i + 1..]).is_empty())
        else {
            return Ok(sql.to_string());
        };
        let candidate = format!("{}{}", &sql[..semicolon], &sql[semicolon + 1..]);
        if self.parse(&candidate)? == self.parse(sql)? {
            Ok(candidate)
        } else {
            Ok(sql.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::engine::duckdb::{DuckDb, sql_error};
    use crate::engine::{Engine, Value};

    #[test]
    fn a_report_reads_one_statement_and_nothing_else_even_in_memory() {
        use crate::engine::{Rows, WRITING_REPORTS};
        let mut engine = DuckDb::open(None, false).unwrap();
        engine
            .conn
            .execute_batch("CREATE TABLE t (id INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        engine.read_only().unwrap();
        for sql in [
            "SELECT count(*) FROM t;\n-- the end\n",
            "WITH x AS (SELECT ';') SELECT * FROM x",
            "FROM t",
            "SELECT $$;$$ AS a, $q$'$q$ AS b",
        ] {
            engine
                .check_query(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            engine.query(sql, &mut Rows::default()).unwrap();
        }
        for sql in
            WRITING_REPORTS
                .iter()
                .chain(&["SET threads = 1", "INSTALL httpfs", "CHECKPOINT"])
        {
            assert!(engine.check_query(sql).is_err(), "{sql}");
            assert!(engine.query(sql, &mut Rows::default()).is_err(), "{sql}");
        }
        let e = engine
            .check_query("SELECT $$'$$; DELETE FROM t")
            .unwrap_err();
        assert!(
            e.message.starts_with("a report must only read"),
            "{}",
            e.message
        );
        let e = engine.check_query("SELECT 1; SELECT 2").unwrap_err();
        assert!(
            e.message.starts_with("a report holds one statement"),
            "{}",
            e.message
        );
        // Past the reports' own check, the database itself refuses to change.
        let refused = engine
            .reading(|| {
                engine
                    .conn
                    .execute_batch("DELETE FROM t")
                    .map_err(sql_error)
            })
            .unwrap_err();
        assert!(refused.message.contains("read-only"), "{}", refused.message);
        let mut rows = Rows::default();
        engine.query("SELECT count(*) FROM t", &mut rows).unwrap();
        assert_eq!(rows.0, [[Value::Integer(2)]]);
        for file in ["attached.db", "copied.csv"] {
            assert!(!std::path::Path::new(file).exists(), "{file}");
        }
    }

    #[test]
    fn a_parquet_report_may_close_with_a_semicolon() {
        let engine = DuckDb::open(None, false).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for (sql, want) in [
            ("SELECT 'a' AS v;\n-- the end\n", "a"),
            ("SELECT 'x;--' AS v", "x;--"),
            ("SELECT $$;$$ AS v -- ;\n", ";"),
        ] {
            let path = dir.path().join("r.parquet");
            engine
                .write_parquet(sql, &path)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let read = format!("SELECT v FROM read_parquet('{}')", path.display());
            let v: String = engine.conn.query_row(&read, [], |r| r.get(0)).unwrap();
            assert_eq!(v, want, "{sql}");
        }
    }
}
