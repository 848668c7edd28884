//! DuckDB's account of its tables, and making them: weir's tables carry no primary-key index
//! (DuckDB keeps a key's index whole in memory while a transaction writes to the table, so it
//! would grow with the load); weir records each key in `weir_keys` and keeps it unique itself.

use std::collections::HashMap;

use anyhow::Context;
use duckdb::{Connection, OptionalExt};

use super::sql_error;
use crate::engine::sql_text::without_primary_key;
use crate::engine::{Check, Column, SqlError, Table, quote};

/// Where weir keeps the key of each table it created without a primary-key index: the names of
/// the key's columns in key order, joined by U+001F.
pub(super) const KEYS: &str = "weir_keys";

pub(super) fn read_tables(conn: &Connection) -> duckdb::Result<Vec<Table>> {
    let kept: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [KEYS],
        |r| r.get(0),
    )?;
    // A table made by an earlier weir may still carry its PRIMARY KEY: either way is a key.
    let kept_key = if kept {
        format!("(SELECT k.key_columns FROM {KEYS} k WHERE k.table_name = t.table_name)")
    } else {
        "NULL".into()
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT t.table_name, t.sql, \
                coalesce((SELECT list_aggr(c.constraint_column_names, 'string_agg', chr(31)) \
                          FROM duckdb_constraints() c \
                          WHERE c.table_oid = t.table_oid AND c.constraint_type = 'PRIMARY KEY'), \
                         {kept_key}, '') \
         FROM duckdb_tables() t \
         WHERE t.database_name = current_database() AND t.schema_name = 'main' AND NOT t.temporary \
           AND t.table_name NOT LIKE 'weir\\_%' ESCAPE '\\' \
         ORDER BY t.table_oid",
    ))?;
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    // Every table's columns and CHECKs in one query each (a query per table costs a prepare).
    let mut columns: HashMap<String, Vec<Column>> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT table_name, column_name, data_type, NOT is_nullable, column_default \
         FROM duckdb_columns() \
         WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal \
         ORDER BY table_oid, column_index",
    )?;
    let mut rows_c = stmt.query([])?;
    while let Some(r) = rows_c.next()? {
        columns.entry(r.get(0)?).or_default().push(Column {
            name: r.get(1)?,
            declared: r.get::<_, String>(2)?.to_uppercase(),
            pk: 0,
            notnull: r.get(3)?,
            default: r.get(4)?,
        });
    }
    let mut checks: HashMap<String, Vec<Check>> = HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT table_name, expression, list_aggr(constraint_column_names, 'string_agg', chr(31)) \
         FROM duckdb_constraints() \
         WHERE database_name = current_database() AND schema_name = 'main' \
           AND constraint_type = 'CHECK' \
         ORDER BY table_oid, constraint_index",
    )?;
    let mut rows_k = stmt.query([])?;
    while let Some(r) = rows_k.next()? {
        let cols: Option<String> = r.get(2)?;
        checks.entry(r.get(0)?).or_default().push(Check {
            expression: r.get(1)?,
            columns: cols
                .unwrap_or_default()
                .split('\u{1f}')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
        });
    }
    let mut tables = Vec::new();
    for (name, sql, pk) in rows {
        let pk: Vec<&str> = pk.split('\u{1f}').filter(|s| !s.is_empty()).collect();
        let mut columns = columns.remove(&name).unwrap_or_default();
        for c in &mut columns {
            c.pk = pk.iter().position(|k| *k == c.name).map_or(0, |p| p + 1);
        }
        tables.push(Table {
            checks: checks.remove(&name).unwrap_or_default(),
            name,
            columns,
            sql,
            indexes: Vec::new(),
        });
    }
    Ok(tables)
}

/// Rebuilds the new table `name` without its PRIMARY KEY and records `key` as its key instead.
/// DuckDB keeps a key's index whole in memory while a transaction writes to the table, so an
/// index would grow with the table; the loads keep keys unique themselves (one winner per key
/// replaces the stored row: DELETE, then INSERT). Key columns stay NOT NULL.
fn unindex(tx: &duckdb::Transaction<'_>, name: &str, key: &[&str]) -> anyhow::Result<()> {
    // DuckDB's own text of the table: one form, whatever way the schema file spelled the key.
    let sql: String = tx.query_row(
        "SELECT sql FROM duckdb_tables() \
         WHERE database_name = current_database() AND schema_name = 'main' AND table_name = ?",
        [name],
        |r| r.get(0),
    )?;
    let bare = without_primary_key(&sql)
        .with_context(|| format!("no PRIMARY KEY clause found in `{sql}`"))?;
    tx.execute_batch(&format!("DROP TABLE {}", quote(name)))?;
    tx.execute_batch(&bare)?;
    for k in key {
        tx.execute_batch(&format!(
            "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
            quote(name),
            quote(k)
        ))?;
    }
    tx.execute(
        &format!("INSERT INTO {KEYS} VALUES (?, ?)"),
        [name, &key.join("\u{1f}")],
    )?;
    Ok(())
}

/// The tables a schema script declares, read from a scratch database in memory. A view or a
/// foreign key is refused: weir could not keep it (see `only_tables`). A `CREATE INDEX` is
/// checked (DuckDB runs it on the scratch tables) but not kept: weir's DuckDB tables keep no
/// index, so memory stays flat and merges do not maintain one; DuckDB's scans with their
/// min/max zone maps are what its reports use (README, "Indexes").
pub(super) fn declared_tables(script: &str) -> Result<Vec<Table>, SqlError> {
    let scratch = Connection::open_in_memory().map_err(sql_error)?;
    declared(&scratch, script)
}

/// `Engine::declared_in_turn`: the scripts run one after another on one scratch database.
pub(super) fn declared_in_turn(scripts: &[&str]) -> Option<(Vec<Table>, Vec<usize>)> {
    let scratch = Connection::open_in_memory().ok()?;
    crate::engine::declared_in_turn(
        scripts,
        |script| scratch.execute_batch(script).ok(),
        || {
            scratch
                .query_row(
                    "SELECT count(*) FROM duckdb_tables() \
                     WHERE database_name = current_database() AND schema_name = 'main' \
                       AND NOT temporary AND table_name NOT LIKE 'weir\\_%' ESCAPE '\\'",
                    [],
                    |r| r.get::<_, usize>(0),
                )
                .ok()
        },
        |script| declared(&scratch, script).ok(),
    )
}

/// Runs `script` on `scratch` and reads the tables there, refusing what weir cannot keep.
fn declared(scratch: &Connection, script: &str) -> Result<Vec<Table>, SqlError> {
    scratch.execute_batch(script).map_err(sql_error)?;
    let other: Option<(String, String)> = scratch
        .query_row(
            "SELECT 'view', view_name FROM duckdb_views() WHERE NOT internal AND NOT temporary \
             LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(sql_error)?;
    if let Some((kind, name)) = other {
        return Err(crate::engine::only_tables(&kind, &name));
    }
    let foreign: Option<String> = scratch
        .query_row(
            "SELECT table_name FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_error)?;
    if let Some(table) = foreign {
        return Err(SqlError {
            message: format!(
                "table `{table}` declares a FOREIGN KEY, which weir's DuckDB tables cannot keep: DuckDB \
                 needs a key index on the table it references (weir's tables have none, so memory stays \
                 flat) and refuses to replace a referenced row; remove the REFERENCES clause (reports can \
                 still JOIN on the columns)"
            ),
            offset: None,
        });
    }
    read_tables(scratch).map_err(sql_error)
}

/// Drops the tables `drop`, creates `create`, each without its key index; all or nothing.
pub(super) fn apply(
    conn: &mut Connection,
    drop: &[String],
    create: &[&Table],
) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {KEYS} (table_name TEXT NOT NULL, key_columns TEXT NOT NULL)"
    ))?;
    for name in drop {
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(name)))?;
        tx.execute(&format!("DELETE FROM {KEYS} WHERE table_name = ?"), [name])?;
    }
    for t in create {
        tx.execute_batch(&t.sql)
            .with_context(|| format!("cannot run `{}`", t.sql))?;
        // A table dropped by hand leaves its old record behind.
        tx.execute(
            &format!("DELETE FROM {KEYS} WHERE table_name = ?"),
            [&t.name],
        )?;
        let key = t.primary_key();
        if !key.is_empty() {
            unindex(&tx, &t.name, &key)
                .with_context(|| format!("cannot create `{}` without its key index", t.name))?;
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::DuckDb;
    use crate::engine::{Engine, Table, Value, WriteSpec};

    fn declared(engine: &DuckDb, script: &str) -> Vec<Table> {
        engine.declared_tables(script).unwrap()
    }

    #[test]
    fn tables_are_made_without_a_key_index_and_keep_their_key() {
        let mut engine = DuckDb::open(None, false).unwrap();
        let script = "CREATE TABLE a (id TEXT PRIMARY KEY, n BIGINT CHECK (n > 0), d TEXT DEFAULT 'x');\n\
                      CREATE TABLE b (k1 BIGINT, k2 TEXT NOT NULL, v TEXT, PRIMARY KEY (k2, k1));\n\
                      CREATE TABLE c (v TEXT);";
        let tables = declared(&engine, script);
        let create: Vec<&Table> = tables.iter().collect();
        engine.apply_schema(&[], &create).unwrap();
        // The same tables, keys and all, as far as the schema check can tell.
        let mut actual = engine.tables().unwrap();
        for t in &mut actual {
            t.sql = tables
                .iter()
                .find(|d| d.name == t.name)
                .unwrap()
                .sql
                .clone();
        }
        assert_eq!(actual, tables);
        assert_eq!(actual[1].primary_key(), ["k2", "k1"]);
        let count =
            |e: &DuckDb, sql: &str| -> i64 { e.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE')"
            ),
            0
        );
        assert_eq!(count(&engine, "SELECT count(*) FROM duckdb_indexes()"), 0);
        let refused = |sql: &str| engine.conn.execute_batch(sql).unwrap_err().to_string();
        assert!(refused("INSERT INTO a (id, n) VALUES (NULL, 1)").contains("NOT NULL"));
        assert!(refused("INSERT INTO b VALUES (NULL, 'x', 'v')").contains("NOT NULL"));
        assert!(refused("INSERT INTO a (id, n) VALUES ('a', 0)").contains("CHECK"));
        engine
            .conn
            .execute_batch("INSERT INTO a (id, n) VALUES ('a', 1)")
            .unwrap();
        assert_eq!(count(&engine, "SELECT count(*) FROM a WHERE d = 'x'"), 1);
        // Recreating drops the old key record with the table.
        engine.apply_schema(&["b".into()], &[&tables[1]]).unwrap();
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM weir_keys WHERE table_name = 'b'"
            ),
            1
        );
        // Creating a table that was dropped by hand replaces its old key record.
        engine.conn.execute_batch("DROP TABLE b").unwrap();
        engine.apply_schema(&[], &[&tables[1]]).unwrap();
        assert_eq!(
            count(
                &engine,
                "SELECT count(*) FROM weir_keys WHERE table_name = 'b'"
            ),
            1
        );
        let tables = engine.tables().unwrap();
        let b = tables.iter().find(|t| t.name == "b").unwrap();
        assert_eq!(b.primary_key(), ["k2", "k1"]);
        // Declared again without a key, it has none.
        engine.conn.execute_batch("DROP TABLE b").unwrap();
        let keyless = declared(&engine, "CREATE TABLE b (k1 BIGINT, k2 TEXT, v TEXT);");
        engine.apply_schema(&[], &[&keyless[0]]).unwrap();
        let tables = engine.tables().unwrap();
        let b = tables.iter().find(|t| t.name == "b").unwrap();
        assert!(b.primary_key().is_empty());
        // A foreign key needs an index on the table it references: refused, with the fix.
        let e = engine
            .declared_tables(
                "CREATE TABLE p (id TEXT PRIMARY KEY); CREATE TABLE q (p_id TEXT REFERENCES p (id));",
            )
            .unwrap_err();
        assert!(
            e.message.starts_with("table `q` declares a FOREIGN KEY"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("remove the REFERENCES clause"),
            "{}",
            e.message
        );
    }

    fn spec(columns: &[&str]) -> WriteSpec {
        WriteSpec {
            id: 0,
            table: "t".into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            key: vec![0],
            version: Some(1),
        }
    }

    #[test]
    fn a_table_an_earlier_weir_made_with_its_primary_key_still_loads() {
        let mut engine = DuckDb::open(None, false).unwrap();
        engine
            .conn
            .execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, version BIGINT, v TEXT)")
            .unwrap();
        assert_eq!(engine.tables().unwrap()[0].primary_key(), ["id"]);
        let spec = spec(&["id", "version", "v"]);
        let row = |id: &str, version: i64, v: &str| {
            [
                Value::Text(id.into()),
                Value::Integer(version),
                Value::Text(v.into()),
            ]
        };
        for rows in [
            vec![row("a", 1, "old"), row("b", 1, "b")],
            // A newer copy replaces the stored row within one transaction; an older one loses.
            vec![row("a", 2, "new"), row("b", 0, "stale")],
        ] {
            let mut load = engine.begin_load().unwrap();
            for r in &rows {
                load.write(&spec, r, &[], &[]).unwrap();
            }
            load.commit().unwrap();
        }
        let rows: Vec<(String, i64, String)> = engine
            .conn
            .prepare("SELECT * FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [("a".into(), 2, "new".into()), ("b".into(), 1, "b".into())]
        );
    }
}
