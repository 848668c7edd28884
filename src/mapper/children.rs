//! `children:`: nested lists that become child tables, with the link to their parent.

use serde_json::Value as Json;

use super::convert::Conversion;
use super::parse::{Parser, child};
use super::{ColumnPlan, ColumnSource, KeyTree, Level, PathExpr, Root};
use crate::engine::{ChildSpec, Table, WriteSpec};
use crate::error::{Diagnostic, Location, did_you_mean};

impl Parser<'_> {
    /// A `children:` list. `scope` is the chain of `each` paths from the top record to here.
    pub(super) fn levels(
        &mut self,
        v: &Json,
        pointer: &str,
        ctx: &mut ChildCtx<'_>,
        known: &mut KeyTree,
        scope: &[Vec<String>],
    ) -> Vec<Level> {
        let Some(items) = v.as_array() else {
            self.problem(Diagnostic::new("`children` must be a list").at(self.at(pointer)));
            return Vec::new();
        };
        let mut levels = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let ip = child(pointer, &i.to_string());
            levels.extend(self.level(item, &ip, ctx, known, scope));
        }
        levels
    }

    /// One entry of a `children:` list, at `ip`.
    fn level(
        &mut self,
        item: &Json,
        ip: &str,
        ctx: &mut ChildCtx<'_>,
        known: &mut KeyTree,
        scope: &[Vec<String>],
    ) -> Option<Level> {
        let keys = &["each", "each_field", "table", "link", "columns", "children"];
        let map = self.entries(item, ip, "a child", keys)?;
        let (each, fields) = match (map.get("each"), map.get("each_field")) {
            (Some(_), Some(_)) => {
                self.problem(
                    Diagnostic::new("a child has both `each` and `each_field`; keep one")
                        .at(self.at(ip)),
                );
                return None;
            }
            (None, Some(f)) => {
                let (each, except) = self.each_field(f, &child(ip, "each_field"))?;
                // Every field of the object is read (those excepted are declared), none unknown.
                known_scope(known, scope).insert(&each.segments, true);
                (each, Some(except))
            }
            (e, None) => (self.each(e, ip)?, None),
        };
        let mut inner_scope = scope.to_vec();
        inner_scope.push(each.segments.clone());
        let mut table = None;
        if let Some(tv) = map.get("table") {
            let entry = ChildEntry {
                pointer: ip,
                columns: map.get("columns"),
                link: map.get("link"),
            };
            table = self.child_table(tv, &entry, ctx, known, &inner_scope);
            if let (Some(t), Some(except)) = (table, &fields) {
                self.check_field_columns(t, ctx);
                // A `value` column holds any field of the object but those excepted: for
                // `pii:`, it reads the object, less those.
                let object: Vec<String> = without_indexes(&inner_scope.concat());
                for c in &mut ctx.child_columns[t] {
                    if let ColumnSource::Path(p) = &c.source
                        && p.root == Root::Current
                        && p.segments.first().is_some_and(|s| s == "value")
                    {
                        c.reads = Some(object.clone());
                        c.reads_except = Some(except.clone());
                    }
                }
            }
        } else if map.contains_key("columns") || map.contains_key("link") {
            self.problem(
                Diagnostic::new("a child with `columns` or `link` needs a `table`").at(self.at(ip)),
            );
        }
        // The list itself is known, even when only deeper levels read it.
        known_scope(known, &inner_scope);
        let children = match map.get("children") {
            Some(c) => self.levels(c, &child(ip, "children"), ctx, known, &inner_scope),
            None => Vec::new(),
        };
        if table.is_none() && children.is_empty() && !map.contains_key("table") {
            self.problem(
                Diagnostic::new("a child needs a `table`, or `children` of its own")
                    .at(self.at(ip)),
            );
        }
        Some(Level {
            each,
            fields,
            table,
            children,
        })
    }

    /// `each_field: <path>` or `each_field: {of: <path>, except: [names]}`: the object whose fields
    /// are the elements (default `.`, the enclosing record), and the field names left out.
    fn each_field(&mut self, v: &Json, pointer: &str) -> Option<(PathExpr, Vec<String>)> {
        let (of, of_pointer, except) = match v {
            Json::Object(_) => {
                let map = self.entries(v, pointer, "`each_field`", &["of", "except"])?;
                let except = match map.get("except") {
                    Some(e) => self.names(e, &child(pointer, "except"), "`except`"),
                    None => Vec::new(),
                };
                let of = map.get("of").cloned().unwrap_or_else(|| Json::from("."));
                (of, child(pointer, "of"), except)
            }
            other => (other.clone(), pointer.to_string(), Vec::new()),
        };
        let each = self.path(&of, &of_pointer)?;
        if each.root != Root::Current {
            self.problem(
                Diagnostic::new(
                    "`each_field` is read from the enclosing record; it cannot start with `$`",
                )
                .at(self.at(&of_pointer)),
            );
            return None;
        }
        Some((each, except))
    }

    /// The columns of an `each_field` child read its elements' `name` or `value`.
    fn check_field_columns(&mut self, table: usize, ctx: &ChildCtx<'_>) {
        for c in &ctx.child_columns[table] {
            let ColumnSource::Path(p) = &c.source else {
                continue;
            };
            let fits = p.root != Root::Current
                || p.segments.is_empty()
                || matches!(p.segments[0].as_str(), "name" | "value");
            if !fits {
                let (line, column) = c.declared_at;
                let mut d = Diagnostic::new(format!(
                    "column `{}` reads `{}`, but the elements of `each_field` are `{{name, value}}`",
                    c.name,
                    p.display()
                ))
                .at(crate::error::Location::at(self.file, line, column));
                d.hint = Some(
                    "read `name` (the field's name) or `value` (its value), or `$parent.…` for the record"
                        .into(),
                );
                self.problem(d);
            }
        }
    }

    /// A child's `each`: a path from the enclosing record.
    fn each(&mut self, v: Option<&Json>, ip: &str) -> Option<PathExpr> {
        let Some(v) = v else {
            let d = Diagnostic::new("a child needs `each`: the path of the list to take rows from");
            self.problem(d.at(self.at(ip)));
            return None;
        };
        let each = self.path(v, &child(ip, "each"))?;
        if each.root != Root::Current {
            self.problem(
                Diagnostic::new(
                    "`each` is read from the enclosing record; it cannot start with `$`",
                )
                .at(self.at(&child(ip, "each"))),
            );
            return None;
        }
        Some(each)
    }

    /// A child's table with its columns and link, checked and added to `ctx`: its index there.
    fn child_table(
        &mut self,
        tv: &Json,
        entry: &ChildEntry,
        ctx: &mut ChildCtx<'_>,
        known: &mut KeyTree,
        scope: &[Vec<String>],
    ) -> Option<usize> {
        let ip = entry.pointer;
        let table = self.table(tv, &child(ip, "table"))?.clone();
        let mut cols = self.columns(&table, entry.columns, ip);
        set_reads(&mut cols, scope);
        let (link, linked_all) = self.link(&table, entry, ctx, &mut cols);
        if link.is_empty() {
            return None;
        }
        // A link that leaves out part of the parent's key mixes the children of parents that
        // share the rest of it.
        for k in ctx.key.iter().filter(|_| linked_all) {
            if !link.iter().any(|&(_, p)| &ctx.names[p] == k) {
                self.problem(
                    Diagnostic::new(format!("`link` does not name `{k}`, a column of the parent's key"))
                        .at(self.at(&child(ip, "link")))
                        .hint(format!(
                            "link a column of `{}` to it, e.g. `{k}_of_parent: {k}` under `link`, and put that \
                             column in the table's PRIMARY KEY",
                            table.name
                        )),
                );
            }
        }
        for c in &cols {
            note_keys(known, scope, c);
        }
        self.check_filled(&table, &cols, &child(ip, "table"));
        self.check_child_key(&table, &cols, &link, ip);
        if ctx.child_specs.iter().any(|s| s.spec.table == table.name) {
            self.problem(
                Diagnostic::new(format!(
                    "child table `{}` is written by two `children` entries",
                    table.name
                ))
                .at(self.at(&child(ip, "table")))
                .hint("write each child table from one entry"),
            );
        }
        let names: Vec<String> = cols.iter().map(|c| c.name.clone()).collect();
        let key: Vec<usize> = table
            .primary_key()
            .iter()
            .filter_map(|k| names.iter().position(|n| n == k))
            .collect();
        for &k in &key {
            cols[k].required = true;
        }
        let spec = WriteSpec {
            id: 0,
            table: table.name.clone(),
            columns: names,
            key,
            version: None,
        };
        ctx.child_specs.push(ChildSpec { spec, link });
        ctx.child_columns.push(cols);
        Some(ctx.child_specs.len() - 1)
    }

    /// The `link:` of a child table: (child column, parent column) pairs, appended to `cols` as
    /// linked columns, and whether every entry could be taken (a wrong one is reported already).
    fn link(
        &mut self,
        table: &Table,
        entry: &ChildEntry,
        ctx: &ChildCtx<'_>,
        cols: &mut Vec<ColumnPlan>,
    ) -> (Vec<(usize, usize)>, bool) {
        let ip = entry.pointer;
        let mut link = Vec::new();
        let Some(lm) = entry.link.and_then(Json::as_object) else {
            self.problem(
                Diagnostic::new(format!(
                    "child table `{}` needs `link`: its columns that hold the parent's key",
                    table.name
                ))
                .at(self.at(ip))
                .hint("e.g. `link: {incident_id: id}`"),
            );
            return (link, false);
        };
        let mut linked_all = true;
        for (child_col, parent) in lm {
            let lp = child(&child(ip, "link"), child_col);
            let Some(p) = self.link_entry(table, ctx, cols, child_col, parent, &lp) else {
                linked_all = false;
                continue;
            };
            link.push((cols.len(), p));
            cols.push(ColumnPlan {
                name: child_col.clone(),
                source: ColumnSource::Link(p),
                conversion: Conversion::Text,
                required: true,
                one_of: None,
                bounds: Default::default(),
                known_in: None,
                declared_at: self.pos(&lp),
                privacy: None,
                reads: None,
                reads_except: None,
                format: None,
                or_null: false,
            });
        }
        (link, linked_all)
    }

    /// One `link:` entry at `lp`: the parent column it names, if the entry holds.
    fn link_entry(
        &mut self,
        table: &Table,
        ctx: &ChildCtx<'_>,
        cols: &[ColumnPlan],
        child_col: &str,
        parent: &Json,
        lp: &str,
    ) -> Option<usize> {
        let parent = self.text(parent, lp, "a `link` value")?;
        let Some(p) = ctx.names.iter().position(|n| n == parent) else {
            let mut d = Diagnostic::new(format!(
                "`{parent}` is not a mapped column of the parent table"
            ))
            .at(self.at(lp));
            d.hint = did_you_mean(parent, ctx.names.iter().map(String::as_str));
            self.problem(d);
            return None;
        };
        if table.column(child_col).is_none() {
            let mut d = Diagnostic::new(format!(
                "column `{child_col}` is not in table `{}`",
                table.name
            ))
            .at(self.key_at(lp));
            d.hint = did_you_mean(child_col, table.columns.iter().map(|c| c.name.as_str()));
            self.problem(d);
            return None;
        }
        if cols.iter().any(|c| c.name == child_col) {
            self.problem(
                Diagnostic::new(format!(
                    "column `{child_col}` is both linked and mapped; keep it under `link` only"
                ))
                .at(self.key_at(lp)),
            );
            return None;
        }
        Some(p)
    }

    /// Children replace a parent's set by its link, and both engines key child rows the same way
    /// only when the primary key holds the link and is filled.
    fn check_child_key(
        &mut self,
        table: &Table,
        cols: &[ColumnPlan],
        link: &[(usize, usize)],
        ip: &str,
    ) {
        let pk = table.primary_key();
        for k in &pk {
            if !cols.iter().any(|c| &c.name == k) {
                self.problem(
                    Diagnostic::new(format!(
                        "column `{k}` of the primary key of `{}` is not filled",
                        table.name
                    ))
                    .at(self.at(&child(ip, "table")))
                    .hint("map it under `columns`, or name it under `link`"),
                );
            }
        }
        for c in cols.iter().filter(|c| pk.contains(&c.name.as_str())) {
            if let Some(p) = c.privacy.filter(|p| !p.keeps_keys()) {
                self.problem(
                    Diagnostic::new(format!(
                        "key column `{}` of `{}` cannot be `privacy: {}`: every row needs its own key",
                        c.name,
                        table.name,
                        p.name()
                    ))
                    .at(Location::at(self.file, c.declared_at.0, c.declared_at.1))
                    .hint("use `privacy: pseudonymize`, which keeps the key unique and joinable"),
                );
            }
        }
        for &(c, _) in link {
            if !pk.is_empty() && !pk.contains(&cols[c].name.as_str()) {
                self.problem(
                    Diagnostic::new(format!(
                        "link column `{}` is not part of the primary key of `{}`",
                        cols[c].name, table.name
                    ))
                    .at(self.at(&child(ip, "link")))
                    .hint("add it to the table's PRIMARY KEY, so one parent's rows never replace another's"),
                );
            }
        }
    }
}

/// What a `children:` entry says of its table, at `pointer`.
struct ChildEntry<'v> {
    pointer: &'v str,
    columns: Option<&'v Json>,
    link: Option<&'v Json>,
}

/// The parent's side of a child level: its columns and key, and the child tables found so far.
pub(super) struct ChildCtx<'a> {
    pub(super) names: &'a [String],
    /// The parent's key columns: a link must name them all.
    pub(super) key: &'a [String],
    pub(super) child_specs: &'a mut Vec<ChildSpec>,
    pub(super) child_columns: &'a mut Vec<Vec<ColumnPlan>>,
}

/// The key tree node for the elements at the end of a chain of `each` paths.
pub(super) fn known_scope<'k>(known: &'k mut KeyTree, scope: &[Vec<String>]) -> &'k mut KeyTree {
    let mut node = known;
    for each in scope {
        node = node.insert(each, false);
        node = node.elements.get_or_insert_with(Default::default);
    }
    node
}

/// Marks the keys a column reads as known, in the scope its path starts from.
pub(super) fn note_keys(known: &mut KeyTree, scope: &[Vec<String>], c: &ColumnPlan) {
    let ColumnSource::Path(p) = &c.source else {
        return;
    };
    let depth = match p.root {
        Root::Current => scope.len(),
        Root::Parent => scope.len().saturating_sub(1),
        Root::Top => 0,
        _ => return,
    };
    let node = known_scope(known, &scope[..depth]);
    node.insert(
        &p.segments,
        c.conversion.takes_whole() || p.segments.is_empty(),
    );
}

/// Fills each column's `reads`: the record keys its path names, from the top of the record, for
/// a column in the scope of the chain of `each` paths `scope`.
pub(super) fn set_reads(cols: &mut [ColumnPlan], scope: &[Vec<String>]) {
    for c in cols {
        let ColumnSource::Path(p) = &c.source else {
            continue;
        };
        let depth = match p.root {
            Root::Current => scope.len(),
            Root::Parent => scope.len().saturating_sub(1),
            Root::Top => 0,
            _ => continue,
        };
        let mut reads: Vec<String> = scope[..depth].iter().flatten().cloned().collect();
        reads.extend(p.segments.iter().cloned());
        c.reads = Some(without_indexes(&reads));
    }
}

/// A path without its list indexes: `teams.0.summary` reads `teams.summary`.
pub(super) fn without_indexes(segments: &[String]) -> Vec<String> {
    segments
        .iter()
        .filter(|s| s.parse::<usize>().is_err())
        .cloned()
        .collect()
}
