//! The files checks write: `output/checks.csv` (one row per check) and
//! `output/check_failures/<name>.csv` (the failing rows of a check, at most
//! `MAX_FAILURES`). Each is written to a temporary file and renamed, as reports are, so a
//! spreadsheet never opens half of one; a check that passes leaves no failures file behind.

use std::path::Path;

use anyhow::Context;

use super::Outcome;
use crate::engine::Value;

/// The columns of output/checks.csv.
pub const COLUMNS: [&str; 6] = [
    "check",
    "table",
    "kind",
    "severity",
    "status",
    "failing_rows",
];

/// Writes `rows` under `header` to `path` through a temporary file beside it.
fn write_csv(path: &Path, header: &[String], rows: &[Vec<Value>]) -> anyhow::Result<()> {
    let dir = path.parent().expect("output files are inside output/");
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.tmp"));
    let written = (|| -> anyhow::Result<()> {
        let file = std::fs::File::create(&temp)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(std::io::BufWriter::new(file));
        writer.write_record(header)?;
        let mut cell = String::new();
        for row in rows {
            for v in row {
                crate::report::cell(v, &mut cell);
                writer.write_field(&cell)?;
            }
            writer.write_record(None::<&[u8]>)?;
        }
        let out = writer
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        out.into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?
            .sync_all()?;
        std::fs::rename(&temp, path)?;
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write `{}`", path.display()))
}

/// Writes output/checks.csv and the failures of each check; removes the failures file of a
/// check with none, and, when `all` checks ran, any file of a check that no longer exists.
/// Returns the paths written, relative to the project, with their rows.
pub fn write(
    output: &Path,
    outcomes: &[Outcome],
    all: bool,
) -> anyhow::Result<Vec<(String, usize)>> {
    let mut written = Vec::new();
    let rows: Vec<Vec<Value>> = outcomes
        .iter()
        .map(|o| {
            vec![
                Value::Text(o.name.clone()),
                Value::Text(o.table.clone()),
                Value::Text(o.kind.to_string()),
                Value::Text(o.severity.name().to_string()),
                Value::Text(o.status.name().to_string()),
                Value::Integer(o.failing_rows as i64),
            ]
        })
        .collect();
    let header: Vec<String> = COLUMNS.map(String::from).to_vec();
    write_csv(&output.join("checks.csv"), &header, &rows)?;
    written.push(("output/checks.csv".to_string(), rows.len()));
    let failures = output.join("check_failures");
    for o in outcomes {
        let path = failures.join(format!("{}.csv", o.name));
        if o.rows.is_empty() {
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove `{}`", path.display()))?;
            }
            continue;
        }
        write_csv(&path, &o.columns, &o.rows)?;
        written.push((
            format!("output/check_failures/{}.csv", o.name),
            o.rows.len(),
        ));
    }
    if all && let Ok(entries) = std::fs::read_dir(&failures) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().to_string();
            let Some(stem) = file.strip_suffix(".csv") else {
                continue;
            };
            if !outcomes.iter().any(|o| o.name == stem) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    Ok(written)
}
