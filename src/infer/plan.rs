//! From a profile to tables and columns: a column per scalar field (nested objects flattened,
//! `_`-joined), a child table per list, a type per column from the values seen, and what is
//! personal. Chooses names; writes no text (render.rs does).

use super::names::{Names, ident};
use super::profile::{Field, Personal, Shape, personal_name};

/// Nested objects flattened this deep; deeper ones are kept whole as JSON text.
const OBJECT_DEPTH: usize = 6;
/// Lists become child tables this many levels down; deeper ones are kept whole as JSON text.
pub const LIST_DEPTH: usize = 3;

/// One column of a proposed table.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    pub sql: &'static str,
    /// Path segments from the current element, or a `$` path (`$fetched_at`, `$context.repo`).
    pub from: Vec<String>,
    /// `type:` when the schema type does not say it (timestamp, date, json).
    pub conv: Option<&'static str>,
    pub privacy: Option<&'static str>,
    /// What the values were: `12 of 12 records; e.g. 3, 5`.
    pub seen: String,
    /// Why the type is what it is, when that is not plain.
    pub note: Option<String>,
}

/// A proposed table.
#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub key: Vec<String>,
    pub about: String,
}

/// A `children:` entry: a list read into `table`, linked to the top table's key.
#[derive(Debug)]
pub struct Child {
    pub table: usize,
    pub each: Vec<String>,
    pub link: Vec<(String, String)>,
    pub children: Vec<Child>,
}

/// Where the version comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// The page envelope's `fetched_at`.
    FetchedAt,
    /// A field of the record (`updated_at`).
    Field(Vec<String>),
}

/// Everything the mapper and schema say.
#[derive(Debug)]
pub struct Plan {
    pub tables: Vec<Table>,
    pub children: Vec<Child>,
    /// The root table's version column.
    pub version: Option<String>,
    /// Record paths that are personal (`pii:`), from the top of the record.
    pub pii: Vec<Vec<String>>,
}

/// What the plan is made from.
pub struct Input<'a> {
    pub table: String,
    pub root: &'a Shape,
    pub key: &'a [Vec<String>],
    /// `$context` keys that are part of the key.
    pub context_key: &'a [String],
    pub version: Option<&'a Version>,
    /// Table names other schema files declare.
    pub taken: Vec<String>,
}

struct Planner {
    tables: Vec<Table>,
    table_names: Names,
    pii: Vec<Vec<String>>,
    /// The root table's key columns: (name, SQL type).
    root_key: Vec<(String, &'static str)>,
}

pub fn plan(input: &Input) -> Plan {
    let mut p = Planner {
        tables: Vec::new(),
        table_names: Names::new(input.taken.iter().cloned()),
        pii: Vec::new(),
        root_key: Vec::new(),
    };
    let name = p.table_names.fresh(&table_ident(&input.table));
    p.tables.push(Table {
        name,
        columns: Vec::new(),
        key: Vec::new(),
        about: format!("one row per record ({} seen)", input.root.objects),
    });
    let mut names = Names::default();
    let mut columns = Vec::new();
    for c in input.context_key {
        columns.push(Column {
            name: names.fresh(&ident(&format!("context_{c}"))),
            sql: "TEXT",
            from: vec![format!("$context.{c}")],
            conv: None,
            privacy: None,
            seen: "the page envelope's context, which tells records with one id apart".into(),
            note: None,
        });
    }
    let mut children = Vec::new();
    let mut level = Level {
        names: &mut names,
        columns: &mut columns,
        children: &mut children,
        of: input.root.objects,
        list_depth: 0,
        table: 0,
        scope: Vec::new(),
    };
    p.shape(input.root, &[], 0, &mut level);
    let mut version = None;
    match input.version {
        Some(Version::FetchedAt) => {
            let name = names.fresh("fetched_at");
            columns.push(Column {
                name: name.clone(),
                sql: "TEXT",
                from: vec!["$fetched_at".into()],
                conv: Some("timestamp"),
                privacy: None,
                seen: "when weir's extractor fetched the page (NULL for a bare body)".into(),
                note: None,
            });
            version = Some(name);
        }
        Some(Version::Field(path)) => {
            version = columns
                .iter()
                .find(|c| &c.from == path)
                .map(|c| c.name.clone());
        }
        None => {}
    }
    // The context columns come first.
    let mut key: Vec<String> = columns[..input.context_key.len()]
        .iter()
        .map(|c| c.name.clone())
        .collect();
    for path in input.key {
        if let Some(c) = columns.iter().find(|c| &c.from == path) {
            key.push(c.name.clone());
        }
    }
    p.root_key = key
        .iter()
        .map(|k| {
            let c = columns
                .iter()
                .find(|c| &c.name == k)
                .expect("key columns are columns");
            (k.clone(), c.sql)
        })
        .collect();
    // A key column must hold a value: a personal key is pseudonymised (it stays unique).
    for c in columns.iter_mut().filter(|c| key.contains(&c.name)) {
        if c.privacy.is_some() {
            c.privacy = Some("pseudonymize");
        }
    }
    p.tables[0].columns = columns;
    p.tables[0].key = key;
    // Child tables were planned before the key was known: give them their link now.
    p.link(&mut children);
    Plan {
        tables: p.tables,
        children,
        version,
        pii: p.pii,
    }
}

/// A table name: `weir_` is weir's own.
fn table_ident(raw: &str) -> String {
    let name = ident(raw);
    if name.starts_with("weir_") || name == "weir" {
        format!("t_{name}")
    } else {
        name
    }
}

/// Where columns of the current table go.
struct Level<'a> {
    names: &'a mut Names,
    columns: &'a mut Vec<Column>,
    children: &'a mut Vec<Child>,
    /// Objects at this level (records, or list elements), for "N of M".
    of: usize,
    list_depth: usize,
    table: usize,
    /// The `each` paths from the top record to this level, for `pii:`.
    scope: Vec<String>,
}

impl Planner {
    /// The columns (and child tables) of the fields of `shape`, at `path` below the level's element.
    fn shape(&mut self, shape: &Shape, path: &[String], depth: usize, level: &mut Level) {
        for (name, field) in &shape.fields {
            let mut at = path.to_vec();
            at.push(name.clone());
            self.field(name, field, &at, depth, level);
        }
    }

    fn field(&mut self, name: &str, f: &Field, at: &[String], depth: usize, level: &mut Level) {
        let values = f.values();
        let objects = f.objects();
        let column_name = |level: &mut Level| {
            let joined: Vec<String> = at.iter().map(|s| ident(s)).collect();
            level.names.fresh(&ident(&joined.join("_")))
        };
        if values > 0 && objects == values {
            let shape = f.object.as_ref().expect("objects were seen");
            if depth + 1 < OBJECT_DEPTH && !shape.fields.is_empty() {
                return self.shape(shape, at, depth + 1, level);
            }
            let note = if shape.fields.is_empty() {
                "always an empty object: kept as JSON text"
            } else {
                "nested deeper than weir flattens: kept as JSON text"
            };
            return self.json(column_name(level), f, at, note.into(), level);
        }
        if values > 0 && f.lists == values {
            let elements = f.elements.as_deref().filter(|e| e.values() > 0);
            let Some(e) = elements else {
                let note = "always an empty list: kept as JSON text";
                return self.json(column_name(level), f, at, note.into(), level);
            };
            if level.list_depth + 1 > LIST_DEPTH {
                let note =
                    format!("a list nested deeper than {LIST_DEPTH} levels: kept as JSON text");
                return self.json(column_name(level), f, at, note, level);
            }
            let whole_objects = e.objects() == e.values()
                && e.object.as_ref().is_some_and(|o| !o.fields.is_empty());
            if whole_objects || (e.objects() == 0 && e.scalars() == e.values()) {
                return self.child(name, f, e, at, level);
            }
            let note = "a list of objects and other values: kept as JSON text";
            return self.json(column_name(level), f, at, note.into(), level);
        }
        if values > 0 && f.scalars() != values {
            let note = format!("mixed: {}: kept as JSON text", kinds(f).join(", "));
            return self.json(column_name(level), f, at, note, level);
        }
        let by_name = personal_name(name) && f.bools == 0;
        let mut column = scalar(column_name(level), f, at, level.of);
        let text = column.sql == "TEXT" && matches!(column.conv, None | Some("text"));
        if text && (f.personal == Some(Personal::Whole) || by_name) {
            column.privacy = Some("pseudonymize");
        } else if text && f.personal == Some(Personal::Within) {
            column.privacy = Some("redact");
        } else if by_name && column.sql != "TEXT" {
            // A phone number given as a number is still a phone number.
            column.sql = "TEXT";
            column.conv = Some("text");
            column.privacy = Some("pseudonymize");
        }
        // `pii:` lists what is personal as a whole; free text that only quotes an address is
        // redacted, which `pii:` does not accept as protection.
        if column.privacy == Some("pseudonymize") {
            self.pii.push(scoped(&level.scope, at));
        }
        level.columns.push(column);
    }

    /// A column that keeps the value whole as JSON text (redacted when something in it looks
    /// personal).
    fn json(&mut self, name: String, f: &Field, at: &[String], note: String, level: &mut Level) {
        let privacy = f.holds_personal().then_some("redact");
        level.columns.push(Column {
            name,
            sql: "TEXT",
            from: at.to_vec(),
            conv: Some("json"),
            privacy,
            seen: seen(f, level.of),
            note: Some(note),
        });
    }

    /// A child table for the list at `at`: a row per element.
    fn child(&mut self, name: &str, f: &Field, e: &Field, at: &[String], level: &mut Level) {
        let parent = self.tables[level.table].name.clone();
        let name = at.last().map_or(name, String::as_str);
        let joined: Vec<String> = at.iter().map(|s| ident(s)).collect();
        let table_name = self
            .table_names
            .fresh(&ident(&format!("{parent}_{}", joined.join("_"))));
        self.tables.push(Table {
            name: table_name,
            columns: Vec::new(),
            key: Vec::new(),
            about: format!(
                "one row per element of `{}` ({} elements in {} lists, {} of them empty)",
                at.join("."),
                e.present,
                f.lists,
                f.empty_lists
            ),
        });
        let table = self.tables.len() - 1;
        let mut names = Names::default();
        let mut columns = Vec::new();
        let mut children = Vec::new();
        let mut scope = level.scope.clone();
        scope.extend(at.iter().cloned());
        // Rows of a list inside a list say which element they belong to, when it has an id.
        if level.list_depth > 0
            && let Some(id) = level.columns.iter().find(|c| c.from == ["id"])
        {
            columns.push(Column {
                name: names.fresh("parent_id"),
                sql: id.sql,
                from: vec!["$parent".into(), "id".into()],
                conv: None,
                privacy: id.privacy,
                seen: "the `id` of the element this list is in".into(),
                note: None,
            });
        }
        let mut inner = Level {
            names: &mut names,
            columns: &mut columns,
            children: &mut children,
            of: e.present,
            list_depth: level.list_depth + 1,
            table,
            scope,
        };
        if e.objects() == e.values() && e.objects() > 0 {
            let shape = e.object.as_ref().expect("objects were seen");
            self.shape(shape, &[], 0, &mut inner);
        } else {
            // A list of scalars: one column for the element itself.
            // (Its path in `pii:` is the list's.)
            self.field(name, e, &[], 0, &mut inner);
            if let Some(c) = columns.last_mut() {
                c.name = names.fresh("value");
            }
        }
        self.tables[table].columns = columns;
        level.children.push(Child {
            table,
            each: at.to_vec(),
            link: Vec::new(),
            children,
        });
    }

    /// Every child table gets the top table's key as `record_<key>` columns, first.
    fn link(&mut self, children: &mut [Child]) {
        for child in children {
            let table = &mut self.tables[child.table];
            let mut names = Names::new(table.columns.iter().map(|c| c.name.clone()));
            let mut linked = Vec::new();
            for (k, sql) in &self.root_key {
                let name = names.fresh(&ident(&format!("record_{k}")));
                linked.push(Column {
                    name: name.clone(),
                    sql,
                    from: Vec::new(),
                    conv: None,
                    privacy: None,
                    seen: String::new(),
                    note: None,
                });
                child.link.push((name, k.clone()));
            }
            linked.append(&mut table.columns);
            table.columns = linked;
            self.link(&mut child.children);
        }
    }
}

/// The kinds of value a field took, with counts: `3 text, 2 integer`.
fn kinds(f: &Field) -> Vec<String> {
    [
        (f.texts, "text"),
        (f.ints, "integer"),
        (f.reals, "real"),
        (f.bools, "boolean"),
        (f.timestamps, "timestamp"),
        (f.dates, "date"),
        (f.objects(), "object"),
        (f.lists, "list"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, k)| format!("{n} {k}"))
    .collect()
}

fn seen(f: &Field, of: usize) -> String {
    let mut s = format!("{} of {of}", f.present);
    if f.nulls > 0 {
        s.push_str(&format!(", {} null", f.nulls));
    }
    if !f.samples.is_empty() {
        s.push_str(&format!("; e.g. {}", f.samples.join(", ")));
    }
    s
}

/// A record path from the top: the `each` paths down to here, then `at`.
fn scoped(scope: &[String], at: &[String]) -> Vec<String> {
    scope.iter().chain(at).cloned().collect()
}

/// A column for a field whose values were all scalars (or null).
fn scalar(name: String, f: &Field, at: &[String], of: usize) -> Column {
    let text = f.texts > 0;
    let numbers = f.ints + f.reals;
    let total = f.scalars();
    let (sql, conv, note) = if total == 0 {
        (
            "TEXT",
            None,
            Some("null in every record: the type is a guess".to_string()),
        )
    } else if f.ints == total {
        ("BIGINT", None, None)
    } else if numbers == total {
        (
            "DOUBLE",
            None,
            (f.ints > 0).then(|| "integers and reals: widened to DOUBLE".into()),
        )
    } else if f.bools == total {
        ("BOOLEAN", None, None)
    } else if f.timestamps == total {
        ("TEXT", Some("timestamp"), None)
    } else if f.dates == total {
        ("TEXT", Some("date"), None)
    } else if f.texts == total {
        ("TEXT", None, None)
    } else {
        let why = if text {
            "mixed with text"
        } else {
            "mixed kinds"
        };
        (
            "TEXT",
            None,
            Some(format!("{why} ({}): stored as text", kinds(f).join(", "))),
        )
    };
    Column {
        name,
        sql,
        from: at.to_vec(),
        conv,
        privacy: None,
        seen: seen(f, of),
        note,
    }
}
