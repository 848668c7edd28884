//! `schemas/*.sql`: which tables the project declares, and how the database on disk differs.

use std::path::Path;

use crate::engine::{Engine, Table};
use crate::error::{Diagnostic, Location};

/// The declared tables, each with the schema file that declares it.
pub struct Schema {
    pub tables: Vec<Table>,
    pub files: Vec<String>,
    /// `file_of[i]` is the file of `tables[i]`.
    pub file_of: Vec<String>,
    /// The whole script, in file order.
    pub script: String,
}

/// Reads `schemas/*.sql` in name order and asks the engine what they declare.
pub fn read(root: &Path, engine: &dyn Engine) -> Result<Schema, Vec<Diagnostic>> {
    let mut paths = schema_files(&root.join("schemas"))?;
    paths.sort();
    if paths.is_empty() {
        return Err(vec![
            Diagnostic::new("no schema files")
                .at(Location::file("schemas/"))
                .hint("add `.sql` files with CREATE TABLE statements"),
        ]);
    }
    let mut schema = Schema {
        tables: Vec::new(),
        files: Vec::new(),
        file_of: Vec::new(),
        script: String::new(),
    };
    let mut problems = Vec::new();
    let mut texts = Vec::new();
    for path in paths {
        let file = format!(
            "schemas/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        match std::fs::read_to_string(&path) {
            Ok(t) => texts.push((file, t)),
            Err(e) => {
                problems.push(
                    Diagnostic::new(format!("cannot read the file: {e}")).at(Location::file(&file)),
                );
            }
        }
    }
    // One run of all files on one scratch database, when every file but the last ends its last
    // statement (so running them apart is running them joined); else, or when the engine
    // refuses any of it, each file's prefix is run again to place the refusal.
    let pieces: Vec<String> = texts.iter().map(|(_, t)| format!("\n{t}")).collect();
    let joinable = texts[..texts.len().saturating_sub(1)]
        .iter()
        .all(|(_, t)| t.trim_end().ends_with(';'));
    let in_turn = (joinable && problems.is_empty())
        .then(|| engine.declared_in_turn(&pieces.iter().map(String::as_str).collect::<Vec<_>>()))
        .flatten()
        .filter(|(tables, counts)| {
            counts.windows(2).all(|w| w[0] <= w[1]) && counts.last() == Some(&tables.len())
        });
    if let Some((tables, counts)) = in_turn {
        let mut tables = tables.into_iter();
        let mut before = 0;
        for ((file, _), (piece, count)) in texts.iter().zip(pieces.iter().zip(counts)) {
            let added: Vec<Table> = tables.by_ref().take(count - before).collect();
            before = count;
            add_tables(&mut schema, file, added, &mut problems);
            schema.script.push_str(piece);
            schema.files.push(file.clone());
        }
    } else {
        for (file, text) in &texts {
            declare_file(engine, &mut schema, file, text, &mut problems);
        }
    }
    if problems.is_empty() {
        add_history(root, engine, &mut schema, &mut problems);
    }
    if problems.is_empty() {
        Ok(schema)
    } else {
        Err(problems)
    }
}

/// Runs `text` after the files before it; its tables, or where the engine refused it.
fn declare_file(
    engine: &dyn Engine,
    schema: &mut Schema,
    file: &str,
    text: &str,
    problems: &mut Vec<Diagnostic>,
) {
    let script = format!("{}\n{}", schema.script, text);
    match engine.declared_tables(&script) {
        Ok(tables) => {
            let added = tables.into_iter().skip(schema.tables.len()).collect();
            add_tables(schema, file, added, problems);
            schema.script = script;
        }
        Err(e) => {
            // The offset is into the whole script; this file starts after the earlier ones.
            let start = schema.script.len() + 1;
            let at = e.offset.and_then(|o| o.checked_sub(start));
            let in_file = crate::engine::SqlError {
                message: e.message.clone(),
                offset: at,
            };
            let location = match in_file.line_col(text) {
                Some((l, c)) => Location::at(file, l, c),
                None => Location::file(file),
            };
            problems.push(
                Diagnostic::new(format!("the database refused the schema: {}", e.message))
                    .at(location),
            );
        }
    }
    schema.files.push(file.to_string());
}

/// The tables `file` adds, their names checked.
fn add_tables(schema: &mut Schema, file: &str, tables: Vec<Table>, problems: &mut Vec<Diagnostic>) {
    for t in tables {
        for name in std::iter::once(&t.name).chain(t.columns.iter().map(|c| &c.name)) {
            if let Some(why) = bad_name(name) {
                problems.push(
                    Diagnostic::new(format!("`{name}` {why}"))
                        .at(Location::file(file))
                        .hint(
                            "name tables and columns with letters, digits and `_`, \
                             starting with a letter",
                        ),
                );
            }
        }
        schema.tables.push(t);
        schema.file_of.push(file.to_string());
    }
}

/// Adds the history table of every table a mapper declares `history: true` for: made from the
/// current table's definition (`history_table_sql`), never written in schemas/, so a source
/// still needs only its schema file, and `initialize` creates, checks and rebuilds it with the
/// rest. Its file is the mapper that asks for it.
fn add_history(
    root: &Path,
    engine: &dyn Engine,
    schema: &mut Schema,
    problems: &mut Vec<Diagnostic>,
) {
    use crate::engine::history::{VALID_FROM, VALID_TO, history_name, history_table_sql};
    // History tables stand alone (no key refers to another table): their statements alone.
    let mut script = String::new();
    let mut files = Vec::new();
    for decl in crate::mapper::declared_history(&root.join("mappers")) {
        let name = history_name(&decl.table);
        if files.iter().any(|(n, _)| *n == name) {
            continue; // Two mappers of one table: one history.
        }
        // A table or version that is not there is the mapper's problem, reported when it is checked.
        let Some(table) = schema.tables.iter().find(|t| t.name == decl.table) else {
            continue;
        };
        let Some(version) = decl.version.as_deref().and_then(|v| table.column(v)) else {
            continue;
        };
        if table.primary_key().is_empty() {
            continue;
        }
        if let Some(i) = schema.tables.iter().position(|t| t.name == name) {
            problems.push(
                Diagnostic::new(format!(
                    "table `{name}` is declared in {}, but `history: true` makes it from `{}`",
                    schema.file_of[i], decl.table
                ))
                .at(Location::file(&decl.file))
                .hint(format!(
                    "remove the CREATE TABLE of `{name}`, or rename it: weir keeps the history table itself"
                )),
            );
            continue;
        }
        if let Some(c) = [VALID_FROM, VALID_TO]
            .into_iter()
            .find(|c| table.column(c).is_some())
        {
            problems.push(
                Diagnostic::new(format!(
                    "table `{}` has a column `{c}`, which its history table adds",
                    decl.table
                ))
                .at(Location::file(&decl.file))
                .hint(format!(
                    "rename the column in {}",
                    file_of(schema, &decl.table)
                )),
            );
            continue;
        }
        if let Some(why) = bad_name(&name) {
            problems.push(
                Diagnostic::new(format!("the history table `{name}` {why}"))
                    .at(Location::file(&decl.file))
                    .hint(format!("give `{}` a shorter name", decl.table)),
            );
            continue;
        }
        script.push_str(&format!("\n{};\n", history_table_sql(table, version)));
        files.push((name, decl.file));
    }
    if files.is_empty() {
        return;
    }
    match engine.declared_tables(&script) {
        Ok(tables) => {
            for (t, (_, file)) in tables.into_iter().zip(files) {
                schema.tables.push(t);
                schema.file_of.push(file);
            }
        }
        // The current table's own definition, as the engine reported it, is refused again.
        Err(e) => problems.push(
            Diagnostic::new(format!(
                "the database refused a history table made from schemas/: {}",
                e.message
            ))
            .at(Location::file(&files[0].1))
            .hint("remove `history: true`, and report the table's definition to weir's authors"),
        ),
    }
}

fn file_of<'s>(schema: &'s Schema, table: &str) -> &'s str {
    schema
        .tables
        .iter()
        .position(|t| t.name == table)
        .map_or("schemas/", |i| schema.file_of[i].as_str())
}

/// The `.sql` files in `dir`; an entry that cannot be read is an error, never a file left out.
fn schema_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, Vec<Diagnostic>> {
    let unreadable = |e: std::io::Error| {
        vec![
            Diagnostic::new(format!("cannot read the schemas folder: {e}"))
                .at(Location::file("schemas/"))
                .hint("run weir in a project folder, or pass `--root DIR`"),
        ]
    };
    let entries = std::fs::read_dir(dir).map_err(unreadable)?;
    let entries = entries.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    Ok(entries
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .collect())
}

/// Why `name` is not a plain SQL identifier; every engine and every report can use a plain one.
/// (Values never go into SQL text: they are bound parameters.)
fn bad_name(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => Some("does not start with a letter"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("holds characters other than letters, digits and `_`")
        }
        _ if name.len() > 63 => Some("is longer than 63 characters"),
        _ => None,
    }
}

/// How one table on disk differs from its declaration, in words; empty when it does not. Both
/// come from the same engine's own account of a table, so like is compared with like.
pub fn differences(declared: &Table, actual: &Table) -> Vec<String> {
    let mut out = Vec::new();
    for c in &declared.columns {
        let Some(a) = actual.column(&c.name) else {
            out.push(format!("column `{}` is missing", c.name));
            continue;
        };
        if a.declared != c.declared {
            out.push(format!(
                "column `{}` is {} on disk but {} in the schema",
                c.name, a.declared, c.declared
            ));
        }
        if (a.pk > 0) != (c.pk > 0) {
            out.push(format!(
                "column `{}` is {}part of the primary key on disk",
                c.name,
                if a.pk > 0 { "" } else { "not " }
            ));
        }
        if a.notnull != c.notnull {
            let (yes, no) = if c.notnull {
                ("in the schema", "on disk")
            } else {
                ("on disk", "in the schema")
            };
            out.push(format!(
                "column `{}` is NOT NULL {yes} but not {no}",
                c.name
            ));
        }
        if a.default != c.default {
            let words = |d: &Option<String>| {
                d.as_ref()
                    .map_or("no DEFAULT".into(), |d| format!("DEFAULT `{d}`"))
            };
            out.push(format!(
                "column `{}` has {} on disk but {} in the schema",
                c.name,
                words(&a.default),
                words(&c.default)
            ));
        }
    }
    for a in &actual.columns {
        if declared.column(&a.name).is_none() {
            out.push(format!(
                "column `{}` is on disk but not in the schema",
                a.name
            ));
        }
    }
    let named = |check: &crate::engine::Check| match check.columns.as_slice() {
        [] => format!("CHECK ({})", check.expression),
        [one] => format!("CHECK ({}) of column `{one}`", check.expression),
        many => format!(
            "CHECK ({}) of columns `{}`",
            check.expression,
            many.join("`, `")
        ),
    };
    for c in declared
        .checks
        .iter()
        .filter(|c| !actual.checks.contains(c))
    {
        out.push(format!("{} is in the schema but not on disk", named(c)));
    }
    for c in actual
        .checks
        .iter()
        .filter(|c| !declared.checks.contains(c))
    {
        out.push(format!("{} is on disk but not in the schema", named(c)));
    }
    out
}

/// Checks, without writing, that every declared table is in the database as declared.
pub fn check(engine: &dyn Engine, schema: &Schema) -> crate::error::Result<()> {
    let actual = engine.tables()?;
    let mut problems = Vec::new();
    for (t, file) in schema.tables.iter().zip(&schema.file_of) {
        let why = match actual.iter().find(|a| a.name == t.name) {
            None => "is not in the database yet".to_string(),
            Some(a) => {
                let diffs = differences(t, a);
                if diffs.is_empty() {
                    continue;
                }
                format!(
                    "in the database differs from the schema: {}",
                    diffs.join("; ")
                )
            }
        };
        problems.push(
            Diagnostic::new(format!("table `{}` {why}", t.name))
                .at(Location::file(file))
                .hint("run `weir initialize` (or `weir run-etl`) first; `--recreate` rebuilds changed tables"),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::error::Error::Problems(problems))
    }
}

/// Creates missing tables; with `recreate`, drops and rebuilds every declared table. A table that
/// differs from its declaration is an error naming the table, the columns and the fix.
pub fn ensure(
    engine: &mut dyn Engine,
    schema: &Schema,
    recreate: bool,
) -> crate::error::Result<usize> {
    let actual = engine.tables()?;
    let mut drop = Vec::new();
    let mut create = Vec::new();
    let mut problems = Vec::new();
    // Indexes of the tables that stay, as schemas/ declares them now: an index is made from
    // the rows, so one added, changed or removed is applied without rebuilding its table.
    let (mut drop_indexes, mut create_indexes) = (Vec::new(), Vec::new());
    for (t, file) in schema.tables.iter().zip(&schema.file_of) {
        match actual.iter().find(|a| a.name == t.name) {
            Some(_) if recreate => {
                drop.push(t.name.clone());
                create.push(t);
            }
            Some(a) => {
                for old in &a.indexes {
                    if !t.indexes.contains(old) {
                        drop_indexes.push(old.name.clone());
                    }
                }
                create_indexes.extend(t.indexes.iter().filter(|i| !a.indexes.contains(i)));
                let diffs = differences(t, a);
                if !diffs.is_empty() {
                    let message = format!(
                        "table `{}` in the database differs from the schema: {}",
                        t.name,
                        diffs.join("; ")
                    );
                    problems.push(Diagnostic::new(message).at(Location::file(file)).hint(
                        "run `weir initialize --recreate` to rebuild the tables from schemas/ (their rows are \
                         dropped; `weir run-etl` reloads them from raw_data/)",
                    ));
                }
            }
            None => create.push(t),
        }
    }
    if !problems.is_empty() {
        return Err(crate::error::Error::Problems(problems));
    }
    let created = create.len();
    if created > 0 {
        // A new or rebuilt table is empty: every raw file must load again. The ledger goes
        // first, so a crash in between costs a full reload, never a table left empty.
        let mut load = engine.begin_load()?;
        crate::bookkeeping::forget_files(load.as_mut())?;
        load.commit()?;
        engine.apply_schema(&drop, &create)?;
    }
    if !drop_indexes.is_empty() || !create_indexes.is_empty() {
        engine.apply_indexes(&drop_indexes, &create_indexes)?;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-run reading of schemas/ says what running each file's prefix again says.
    #[test]
    fn one_run_of_the_files_declares_what_a_run_per_file_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let sqlite = crate::engine::Sqlite::in_memory().unwrap();
        #[cfg(feature = "duckdb")]
        let duckdb = crate::engine::DuckDb::open(None, false).unwrap();
        let engines: Vec<&dyn Engine> = vec![
            &sqlite,
            #[cfg(feature = "duckdb")]
            &duckdb,
        ];
        for engine in engines {
            let fast = read(root, engine).unwrap();
            let mut slow = Schema {
                tables: Vec::new(),
                files: Vec::new(),
                file_of: Vec::new(),
                script: String::new(),
            };
            let mut problems = Vec::new();
            let mut paths = schema_files(&root.join("schemas")).unwrap();
            paths.sort();
            for path in paths {
                let file = format!("schemas/{}", path.file_name().unwrap().to_string_lossy());
                let text = std::fs::read_to_string(&path).unwrap();
                declare_file(engine, &mut slow, &file, &text, &mut problems);
            }
            add_history(root, engine, &mut slow, &mut problems);
            assert!(problems.is_empty(), "{problems:?}");
            assert!(fast.tables.len() > 20, "{:?}", engine.kind());
            assert_eq!(fast.tables, slow.tables, "{:?}", engine.kind());
            assert_eq!(fast.file_of, slow.file_of);
            assert_eq!(fast.files, slow.files);
            assert_eq!(fast.script, slow.script);
        }
    }
}
