//! Numbers and reports: `Metrics` (a flat name -> number map plus curves),
//! `Table` (columns of text or numbers, CSV/Markdown) and `Plot` (an SVG).

use crate::artifact::{json_bytes, json_file, Files};
use crate::StageError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub values: BTreeMap<String, f64>,
    /// Named series, e.g. `train_loss` per epoch.
    pub curves: BTreeMap<String, Vec<f64>>,
}

impl Metrics {
    /// A training run's metrics from its per-epoch series: each series is a
    /// curve, the last value of each `headline` series a value (NaN when no
    /// epoch ran), and `epochs` the number of epochs.
    pub fn from_epochs(epochs: usize, series: Vec<(&str, Vec<f64>)>, headline: &[&str]) -> Metrics {
        let mut values = BTreeMap::from([("epochs".to_string(), epochs as f64)]);
        for (name, points) in &series {
            if headline.contains(name) {
                values.insert(name.to_string(), points.last().copied().unwrap_or(f64::NAN));
            }
        }
        let curves = series
            .into_iter()
            .map(|(name, points)| (name.to_string(), points))
            .collect();
        Metrics { values, curves }
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([(
            "metrics.json".to_string(),
            json_bytes(self)?,
        )]))
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        json_file(files, "metrics.json")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cell {
    Num(f64),
    Text(String),
}

impl std::fmt::Display for Cell {
    /// Numbers in their shortest exact form (integers without a decimal point).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Num(x) if x.fract() == 0.0 && x.abs() < 1e15 => write!(f, "{}", *x as i64),
            Cell::Num(x) => write!(f, "{x}"),
            Cell::Text(t) => f.write_str(t),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// A table of numbers, one row per item of `rows`: the per-epoch curve every
    /// training stage returns is built here. `N` ties each row to the columns.
    pub fn numeric<const N: usize>(
        title: &str,
        columns: [&str; N],
        rows: impl IntoIterator<Item = [f64; N]>,
    ) -> Table {
        Table {
            title: title.to_string(),
            columns: columns.map(String::from).to_vec(),
            rows: rows
                .into_iter()
                .map(|row| row.map(Cell::Num).to_vec())
                .collect(),
        }
    }

    /// The JSON form only: the CSV and Markdown forms are rendered from it when a
    /// run directory or report needs them, so the cache holds each table once
    /// (storing all three tripled a 100,000-point sweep's cache). Entries written
    /// with `table.csv` and `table.md` beside it still load.
    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([("table.json".to_string(), json_bytes(self)?)]))
    }

    /// RFC 4180 CSV: a header line, then one line per row; cells holding a
    /// comma, quote or newline are quoted.
    pub fn to_csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|c| quote(c)).collect();
        out.push_str(&header.join(","));
        out.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| quote(&c.to_string())).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// A GitHub-flavoured Markdown table under the title.
    pub fn to_markdown(&self) -> String {
        let escape = |s: String| s.replace('|', "\\|").replace('\n', " ");
        let mut out = String::new();
        if !self.title.is_empty() {
            out.push_str(&format!("**{}**\n\n", escape(self.title.clone())));
        }
        let header: Vec<String> = self.columns.iter().map(|c| escape(c.clone())).collect();
        out.push_str(&format!("| {} |\n", header.join(" | ")));
        out.push_str(&format!("|{}\n", " --- |".repeat(self.columns.len())));
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| escape(c.to_string())).collect();
            out.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        out
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        json_file(files, "table.json")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    pub title: String,
    pub svg: String,
}

impl Plot {
    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("plot.json".to_string(), json_bytes(&self.title)?),
            ("plot.svg".to_string(), self.svg.clone().into_bytes()),
        ]))
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        let title = json_file(files, "plot.json")?;
        let svg = String::from_utf8(crate::artifact::file(files, "plot.svg")?.to_vec())
            .map_err(|_| StageError::Corrupt("`plot.svg` is not UTF-8".into()))?;
        Ok(Plot { title, svg })
    }
}
