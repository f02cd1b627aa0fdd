//! The packed form of a table file: a `Table`'s cells column by column
//! (`{"title", "columns", "data": [[column 0 ...], ...]}`) instead of row by
//! row. The points of a sweep share whole columns (layer names, kinds, MACs),
//! which deflate then stores as one match instead of one per cell: about 15%
//! less per `sim.accelerator` point. Used only inside packs, and only when it
//! gives back the canonical bytes exactly (checked when packing); the manifest
//! always hashes the canonical `table.json`. This module never changes a table
//! and never decides what is cached.

use crate::cache_disk as disk;
use pipe_stdlib::metrics::{Cell, Table};
use serde::{Deserialize, Serialize};

/// The file name a table is stored under (`Table::to_files`).
pub const TABLE_FILE: &str = "table.json";

#[derive(Serialize, Deserialize)]
struct Columns {
    title: String,
    columns: Vec<String>,
    data: Vec<Vec<Cell>>,
}

/// The columnar form of a canonical `table.json`, when it reads back to exactly
/// those bytes (a ragged or empty table, or a number JSON cannot carry, stays
/// as it is).
pub fn pack(canonical: &[u8]) -> Option<Vec<u8>> {
    let table: Table = disk::parse_deep(canonical).ok()?;
    let width = table.columns.len();
    if width == 0 || table.rows.iter().any(|r| r.len() != width) {
        return None;
    }
    let mut data = vec![Vec::with_capacity(table.rows.len()); width];
    for row in table.rows {
        for (column, cell) in data.iter_mut().zip(row) {
            column.push(cell);
        }
    }
    let columns = Columns {
        title: table.title,
        columns: table.columns,
        data,
    };
    let packed = serde_json::to_vec(&columns).ok()?;
    (unpack(&packed).ok()? == canonical).then_some(packed)
}

/// The canonical `table.json` bytes of a columnar form.
pub fn unpack(packed: &[u8]) -> Result<Vec<u8>, String> {
    let c: Columns = disk::parse_deep(packed).map_err(|e| format!("packed table: {e}"))?;
    let height = c.data.first().map_or(0, Vec::len);
    if c.columns.is_empty()
        || c.data.len() != c.columns.len()
        || c.data.iter().any(|col| col.len() != height)
    {
        return Err("packed table: columns of different lengths".into());
    }
    let mut rows = vec![Vec::with_capacity(c.columns.len()); height];
    for column in c.data {
        for (row, cell) in rows.iter_mut().zip(column) {
            row.push(cell);
        }
    }
    let table = Table {
        title: c.title,
        columns: c.columns,
        rows,
    };
    serde_json::to_vec(&table).map_err(|e| format!("packed table: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(t: &Table) -> Vec<u8> {
        serde_json::to_vec(t).unwrap()
    }

    #[test]
    fn a_table_round_trips_bit_for_bit() {
        let t = Table {
            title: "per layer".into(),
            columns: vec!["layer".into(), "energy".into()],
            rows: vec![
                vec![Cell::Text("conv \"1\"".into()), Cell::Num(0.1 + 0.2)],
                vec![Cell::Text("fc".into()), Cell::Num(1e300)],
            ],
        };
        let bytes = canonical(&t);
        let packed = pack(&bytes).expect("a rectangular table packs");
        assert_ne!(packed, bytes);
        assert_eq!(unpack(&packed).unwrap(), bytes);
    }

    #[test]
    fn what_would_not_come_back_exactly_is_left_as_it_is() {
        let ragged = Table {
            title: String::new(),
            columns: vec!["a".into(), "b".into()],
            rows: vec![vec![Cell::Num(1.0)]],
        };
        assert_eq!(pack(&canonical(&ragged)), None);
        assert_eq!(pack(&canonical(&Table::default())), None);
        // Not what serde_json writes for this table (spaces): not packed.
        assert_eq!(
            pack(br#"{"title": "", "columns": ["a"], "rows": [[1.0]]}"#),
            None
        );
        assert_eq!(pack(b"not json"), None);
    }

    #[test]
    fn a_damaged_packed_table_is_an_error() {
        for bad in [
            &br#"{"title":"","columns":["a","b"],"data":[[1.0],[2.0,3.0]]}"#[..],
            br#"{"title":"","columns":["a"],"data":[[1.0],[2.0]]}"#,
            br#"{"title":"","columns":[],"data":[]}"#,
            b"[[[[",
        ] {
            assert!(unpack(bad).is_err());
        }
    }
}
