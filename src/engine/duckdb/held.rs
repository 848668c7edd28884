//! Rows a DuckDB load holds in Rust until a merge, column by column, typed by the values that
//! came; taken out as one Arrow record batch that DuckDB scans in place.

use std::sync::Arc;

use duckdb::arrow::array::{
    Array, ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, StringArray,
    StringBuilder,
};
use duckdb::arrow::datatypes::{Field, Schema};
use duckdb::arrow::record_batch::RecordBatch;

use crate::engine::Value;

/// A column of held rows, typed by the values that came: integers, reals or text; a column whose
/// values disagree is held as text (the merge casts every column to its declared type).
enum Col {
    /// Only NULLs so far: how many.
    Nulls(usize),
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
}

impl Col {
    fn push(&mut self, v: &Value) {
        match (&mut *self, v) {
            (Col::Nulls(n), Value::Null) => *n += 1,
            (Col::Int(b), Value::Null) => b.append_null(),
            (Col::Real(b), Value::Null) => b.append_null(),
            (Col::Text(b), Value::Null) => b.append_null(),
            (Col::Int(b), Value::Integer(i)) => b.append_value(*i),
            (Col::Real(b), Value::Real(f)) => b.append_value(*f),
            (Col::Text(b), Value::Text(s)) => b.append_value(s),
            (Col::Text(b), Value::Integer(i)) => b.append_value(itoa::Buffer::new().format(*i)),
            (Col::Text(b), Value::Real(f)) => b.append_value(f.to_string()),
            (Col::Nulls(n), _) => {
                let n = *n;
                *self = match v {
                    Value::Integer(_) => Col::Int(Int64Builder::new()),
                    Value::Real(_) => Col::Real(Float64Builder::new()),
                    _ => Col::Text(StringBuilder::new()),
                };
                self.pad(n);
                self.push(v);
            }
            _ => {
                *self = Col::Text(self.take_as_text());
                self.push(v);
            }
        }
    }

    fn pad(&mut self, n: usize) {
        match self {
            Col::Nulls(m) => *m += n,
            Col::Int(b) => b.append_nulls(n),
            Col::Real(b) => b.append_nulls(n),
            Col::Text(b) => (0..n).for_each(|_| b.append_null()),
        }
    }

    /// The values so far as text, the way `push` writes a number as text; the column starts over.
    fn take_as_text(&mut self) -> StringBuilder {
        let mut text = StringBuilder::new();
        match self.finish().as_any() {
            a if let Some(a) = a.downcast_ref::<Int64Array>() => a.iter().for_each(|v| {
                text.append_option(v.map(|i| itoa::Buffer::new().format(i).to_string()))
            }),
            a if let Some(a) = a.downcast_ref::<Float64Array>() => a
                .iter()
                .for_each(|v| text.append_option(v.map(|f| f.to_string()))),
            a if let Some(a) = a.downcast_ref::<StringArray>() => {
                a.iter().for_each(|v| text.append_option(v))
            }
            _ => unreachable!("a held column is integers, reals or text"),
        }
        text
    }

    /// The values so far as an Arrow array; the column starts over, empty and untyped.
    fn finish(&mut self) -> ArrayRef {
        match std::mem::replace(self, Col::Nulls(0)) {
            Col::Nulls(n) => Arc::new(StringArray::new_null(n)),
            Col::Int(mut b) => Arc::new(b.finish()),
            Col::Real(mut b) => Arc::new(b.finish()),
            Col::Text(mut b) => Arc::new(b.finish()),
        }
    }
}

/// Rows held until a merge, column by column. Columns are named `c0`, `c1`, … for DuckDB.
pub(super) struct Held {
    cols: Vec<Col>,
    len: usize,
}

impl Held {
    pub(super) fn new(width: usize) -> Held {
        Held {
            cols: (0..width).map(|_| Col::Nulls(0)).collect(),
            len: 0,
        }
    }

    /// How many rows are held.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// How many columns a row has.
    pub(super) fn width(&self) -> usize {
        self.cols.len()
    }

    pub(super) fn push<'v>(&mut self, row: impl IntoIterator<Item = &'v Value>) {
        for (col, v) in self.cols.iter_mut().zip(row) {
            col.push(v);
        }
        self.len += 1;
    }

    /// The held rows as a record batch; nothing is held afterwards.
    pub(super) fn take(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self.cols.iter_mut().map(Col::finish).collect();
        let fields: Vec<Field> = arrays
            .iter()
            .enumerate()
            .map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true))
            .collect();
        self.len = 0;
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .expect("held columns have one length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &ArrayRef) -> Vec<Option<String>> {
        let a = a.as_any().downcast_ref::<StringArray>().expect("text");
        a.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn a_held_column_keeps_its_values_whatever_kinds_come() {
        let mut held = Held::new(4);
        let rows = [
            [
                Value::Null,
                Value::Integer(1),
                Value::Real(1.5),
                Value::Null,
            ],
            [
                Value::Integer(7),
                Value::Text("x".into()),
                Value::Integer(2),
                Value::Null,
            ],
            [Value::Null, Value::Null, Value::Real(-0.25), Value::Null],
        ];
        for row in &rows {
            held.push(row);
        }
        let batch = held.take();
        assert_eq!(batch.num_rows(), 3);
        // Only integers (and NULLs): integers, NULLs where they came.
        let ints = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(ints.iter().collect::<Vec<_>>(), [None, Some(7), None]);
        // Kinds that disagree: text, each value as it would be written.
        assert_eq!(
            strings(batch.column(1)),
            [Some("1".into()), Some("x".into()), None]
        );
        assert_eq!(
            strings(batch.column(2)),
            [Some("1.5".into()), Some("2".into()), Some("-0.25".into())]
        );
        assert_eq!(strings(batch.column(3)), [None, None, None]);
        // Taking leaves nothing held, and the next batch starts untyped.
        held.push(&[
            Value::Text("a".into()),
            Value::Integer(3),
            Value::Null,
            Value::Real(2.0),
        ]);
        let batch = held.take();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(strings(batch.column(0)), [Some("a".into())]);
        assert!(
            batch
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .is_some()
        );
    }
}
