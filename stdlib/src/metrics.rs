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
    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([("metrics.json".to_string(), json_bytes(self)?)]))
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub title: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([("table.json".to_string(), json_bytes(self)?)]))
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
