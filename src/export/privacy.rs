//! Which columns keep people out of the database, as the mappers say: a column is listed under a
//! kind when every mapper that writes it converts it so (one mapper writing the raw value makes
//! the column raw). Read from the parsed mappers, never from the data.

use std::collections::BTreeMap;

use crate::mapper::privacy::Privacy;
use crate::mapper::{ColumnPlan, Mapper};

/// What a mapper does to a personal value before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Replaced by a keyed hash (`pseudonymize`): joins still work, the value is gone.
    Pseudonymized,
    /// Never stored (`drop`): the column is NULL.
    Dropped,
    /// Kept in shape only (`mask`): an email's domain, a phone number's country code.
    Masked,
    /// Each email, phone number, address or token inside the text masked (`redact`).
    Redacted,
}

/// The columns of one table under each kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Columns {
    pub pseudonymized: Vec<String>,
    pub dropped: Vec<String>,
    pub masked: Vec<String>,
    pub redacted: Vec<String>,
}

/// The privacy kind a column's `privacy:` gives it; `allow` and no `privacy:` store the value as
/// it is.
pub fn kind(plan: &ColumnPlan) -> Option<Kind> {
    match plan.privacy? {
        Privacy::Pseudonymize => Some(Kind::Pseudonymized),
        Privacy::Drop => Some(Kind::Dropped),
        Privacy::Mask => Some(Kind::Masked),
        Privacy::Redact => Some(Kind::Redacted),
        Privacy::Allow => None,
    }
}

/// A table's columns, in the order the mappers name them, each with the kind of every mapper
/// column that writes it.
type Writers = Vec<(String, Vec<Option<Kind>>)>;

/// Per table, the columns the mappers pseudonymise, drop or mask.
pub fn columns(mappers: &[Mapper]) -> BTreeMap<String, Columns> {
    let mut seen: BTreeMap<String, Writers> = BTreeMap::new();
    let mut note = |table: &str, plans: &[ColumnPlan]| {
        let columns = seen.entry(table.to_string()).or_default();
        for plan in plans {
            let k = kind(plan);
            match columns.iter_mut().find(|(name, _)| *name == plan.name) {
                Some((_, kinds)) => kinds.push(k),
                None => columns.push((plan.name.clone(), vec![k])),
            }
        }
    };
    for m in mappers {
        note(&m.spec.table, &m.columns);
        for (child, plans) in m.child_specs.iter().zip(&m.child_columns) {
            note(&child.spec.table, plans);
        }
    }
    seen.into_iter()
        .map(|(table, columns)| {
            let mut out = Columns::default();
            for (name, kinds) in columns {
                let Some(Some(first)) = kinds.first().copied() else {
                    continue;
                };
                if kinds.iter().any(|k| *k != Some(first)) {
                    continue;
                }
                match first {
                    Kind::Pseudonymized => out.pseudonymized.push(name),
                    Kind::Dropped => out.dropped.push(name),
                    Kind::Masked => out.masked.push(name),
                    Kind::Redacted => out.redacted.push(name),
                }
            }
            (table, out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::engine::{Engine, Sqlite};

    #[test]
    fn every_table_a_mapper_writes_is_listed_with_its_private_columns() {
        let engine = Sqlite::in_memory().unwrap();
        let tables = engine
            .declared_tables(
                "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, name TEXT, ip TEXT, note TEXT);
                 CREATE TABLE user_phones (user_id TEXT PRIMARY KEY, phone TEXT);",
            )
            .unwrap();
        let mapper = crate::mapper::parse(
            "users",
            "table: users\nkey: [id]\ncolumns:\n  id: id\n  \
             email: {from: email, privacy: pseudonymize}\n  name: name\n  \
             ip: {from: ip, privacy: drop}\n  note: {from: note, privacy: redact}\n\
             children:\n  - table: user_phones\n    each: phones\n    link: {user_id: id}\n    \
             columns:\n      phone: {from: ., privacy: mask}\n",
            "mappers/users.yaml",
            &tables,
            std::path::Path::new("schemas"),
            None,
        )
        .unwrap();
        let columns = super::columns(&[mapper]);
        assert_eq!(columns.keys().collect::<Vec<_>>(), ["user_phones", "users"]);
        let users = &columns["users"];
        assert_eq!(users.pseudonymized, ["email"]);
        assert_eq!(users.dropped, ["ip"]);
        assert!(users.masked.is_empty());
        assert_eq!(users.redacted, ["note"]);
        assert_eq!(columns["user_phones"].masked, ["phone"]);
        assert!(columns["user_phones"].pseudonymized.is_empty());
    }
}
