//! weir's SQL functions (`engine::functions`) as DuckDB scalar functions over Arrow arrays.

use std::error::Error;
use std::sync::Arc;

use duckdb::Connection;
use duckdb::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::DataType;
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::vscalar::{ArrowFunctionSignature, VArrowScalar};

use crate::engine::functions;

type Result<T> = std::result::Result<T, Box<dyn Error>>;

pub(super) fn register(conn: &Connection) -> duckdb::Result<()> {
    conn.register_scalar_function::<Round>("weir_round")?;
    conn.register_scalar_function::<Epoch>("weir_epoch")?;
    conn.register_scalar_function::<LocalTime>("weir_local_time")?;
    conn.register_scalar_function::<Weekday>("weir_weekday")
}

/// Column `i` of the arguments as text (DuckDB may hand strings over as views).
fn texts(input: &RecordBatch, i: usize) -> Result<StringArray> {
    let column = cast(input.column(i), &DataType::Utf8)?;
    Ok(column
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or("expected a text argument")?
        .clone())
}

fn numbers(input: &RecordBatch, i: usize, to: &DataType) -> Result<ArrayRef> {
    Ok(cast(input.column(i), to)?)
}

struct Round;

impl VArrowScalar for Round {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef> {
        let x = numbers(&input, 0, &DataType::Float64)?;
        let x = x
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or("weir_round: x")?;
        let d = numbers(&input, 1, &DataType::Int64)?;
        let d = d
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or("weir_round: digits")?;
        let out: Float64Array = (0..x.len())
            .map(|i| {
                (x.is_valid(i) && d.is_valid(i)).then(|| functions::round(x.value(i), d.value(i)))
            })
            .collect();
        Ok(Arc::new(out))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Float64, DataType::Int64],
            DataType::Float64,
        )]
    }
}

struct Epoch;

impl VArrowScalar for Epoch {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef> {
        let t = texts(&input, 0)?;
        let out = t
            .iter()
            .map(|v| v.map(functions::epoch).transpose())
            .collect::<std::result::Result<Int64Array, String>>()
            .map_err(|e| format!("weir_epoch: {e}"))?;
        Ok(Arc::new(out))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Utf8],
            DataType::Int64,
        )]
    }
}

struct LocalTime;

impl VArrowScalar for LocalTime {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef> {
        let t = texts(&input, 0)?;
        let zone = texts(&input, 1)?;
        let out = t
            .iter()
            .zip(zone.iter())
            .map(|(t, zone)| match (t, zone) {
                (Some(t), Some(zone)) => functions::local_time(t, zone).map(Some),
                _ => Ok(None),
            })
            .collect::<std::result::Result<StringArray, String>>()?;
        Ok(Arc::new(out))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Utf8, DataType::Utf8],
            DataType::Utf8,
        )]
    }
}

struct Weekday;

impl VArrowScalar for Weekday {
    type State = ();

    fn invoke(_: &(), input: RecordBatch) -> Result<ArrayRef> {
        let t = texts(&input, 0)?;
        let out = t
            .iter()
            .map(|v| v.map(functions::weekday).transpose())
            .collect::<std::result::Result<Int64Array, String>>()?;
        Ok(Arc::new(out))
    }

    fn signatures() -> Vec<ArrowFunctionSignature> {
        vec![ArrowFunctionSignature::exact(
            vec![DataType::Utf8],
            DataType::Int64,
        )]
    }
}
