//! A minimal reader for the simulators' CSV tables (PPA, memory, NVM cells,
//! SCALE-Sim topologies): `#` comment lines, one header line, comma-separated
//! cells, a trailing comma allowed (SCALE-Sim writes one). It only splits and
//! looks cells up; what a column means is the caller's business.

use crate::error::SimError;

/// A parsed table: header names and rows of trimmed cells, each with its line number.
#[derive(Debug, Clone)]
pub struct CsvTable {
    pub source: String,
    pub header: Vec<String>,
    pub rows: Vec<CsvRow>,
}

#[derive(Debug, Clone)]
pub struct CsvRow {
    /// 1-based line number in the file, for error messages.
    pub line: usize,
    pub cells: Vec<String>,
}

fn split_cells(line: &str) -> Vec<String> {
    let mut cells: Vec<String> = line.split(',').map(|c| c.trim().to_string()).collect();
    if cells.len() > 1 && cells.last().is_some_and(|c| c.is_empty()) {
        cells.pop();
    }
    cells
}

impl CsvTable {
    /// Parses `text`; `source` names the file in every error.
    pub fn parse(source: &str, text: &str) -> Result<CsvTable, SimError> {
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let cells = split_cells(line);
            match header {
                None => header = Some(cells.iter().map(|c| c.to_ascii_lowercase()).collect()),
                Some(_) => rows.push(CsvRow { line: i + 1, cells }),
            }
        }
        let header = header.ok_or_else(|| {
            SimError::table(
                source,
                "the file is empty: expected a header line and data rows",
            )
        })?;
        if rows.is_empty() {
            return Err(SimError::table(
                source,
                "the table has a header but no data rows",
            ));
        }
        Ok(CsvTable {
            source: source.to_string(),
            header,
            rows,
        })
    }

    /// Reads `path` and parses it; an unreadable file is a table error naming the path.
    pub fn read(path: &std::path::Path) -> Result<CsvTable, SimError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::table(&name, format!("cannot read the file: {e}")))?;
        CsvTable::parse(&name, &text)
    }

    /// Index of every named column, or an error listing the missing ones.
    pub fn columns<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N], SimError> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.header.iter().any(|h| h == n))
            .collect();
        if !missing.is_empty() {
            return Err(SimError::table(
                &self.source,
                format!(
                    "missing column(s) {}; the header must contain: {}",
                    quoted(&missing),
                    names.join(",")
                ),
            ));
        }
        Ok(names.map(|n| self.header.iter().position(|h| h == n).unwrap_or(0)))
    }

    /// The text of a cell, or an error naming the row and column.
    pub fn text<'a>(&self, row: &'a CsvRow, col: usize) -> Result<&'a str, SimError> {
        row.cells.get(col).map(String::as_str).ok_or_else(|| {
            SimError::table(
                &self.source,
                format!(
                    "row at line {}: has {} cells, column `{}` is missing",
                    row.line,
                    row.cells.len(),
                    self.header[col]
                ),
            )
        })
    }

    /// A finite number from a cell.
    pub fn number(&self, row: &CsvRow, col: usize) -> Result<f64, SimError> {
        let text = self.text(row, col)?;
        text.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                self.row_error(
                    row,
                    format!("column `{}` is `{text}`, not a number", self.header[col]),
                )
            })
    }

    /// A number that must not be negative (energies, areas, latencies, leakage).
    pub fn non_negative(&self, row: &CsvRow, col: usize) -> Result<f64, SimError> {
        let x = self.number(row, col)?;
        if x < 0.0 {
            return Err(self.row_error(
                row,
                format!(
                    "column `{}` is negative ({x}); it must be >= 0",
                    self.header[col]
                ),
            ));
        }
        Ok(x)
    }

    /// A strictly positive number (capacities, sizes, frequencies).
    pub fn positive(&self, row: &CsvRow, col: usize) -> Result<f64, SimError> {
        let x = self.number(row, col)?;
        if x <= 0.0 {
            return Err(self.row_error(
                row,
                format!("column `{}` is {x}; it must be > 0", self.header[col]),
            ));
        }
        Ok(x)
    }

    /// A positive whole number (layer dimensions).
    pub fn count(&self, row: &CsvRow, col: usize) -> Result<usize, SimError> {
        let text = self.text(row, col)?;
        text.parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                self.row_error(
                    row,
                    format!(
                        "column `{}` is `{text}`, not a positive whole number",
                        self.header[col]
                    ),
                )
            })
    }

    pub fn row_error(&self, row: &CsvRow, message: String) -> SimError {
        SimError::table(&self.source, format!("row at line {}: {message}", row.line))
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
