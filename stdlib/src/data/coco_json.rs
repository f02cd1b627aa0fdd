//! Reading COCO JSON: the ground-truth layout (`images`, `annotations`,
//! `categories`, plus `videos` for COCO-VID) and the results layout (a list of
//! `{image_id, category_id, bbox, score}`). Each entry is decoded on its own, so
//! an error names the file, the list and the entry (`annotations[3] (id 17)`).
//! Owns parsing and validation only; scoring is `run::coco`, frames `coco_vid`.

use super::{file_error, read_file};
use crate::run::coco::{CocoTruth, DtBox, GtBox};
use crate::StageError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// One `images` entry (COCO-VID fields optional; `coco_vid` requires them).
#[derive(Debug, Clone, Deserialize)]
pub struct ImageEntry {
    pub id: u64,
    #[serde(default)]
    pub file_name: Option<String>,
    #[serde(default)]
    pub width: Option<u64>,
    #[serde(default)]
    pub height: Option<u64>,
    #[serde(default)]
    pub video_id: Option<u64>,
    #[serde(default)]
    pub frame_id: Option<u64>,
}

/// One `annotations` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct AnnotationEntry {
    pub id: u64,
    pub image_id: u64,
    pub category_id: u64,
    pub bbox: [f64; 4],
    /// Missing: w·h.
    #[serde(default)]
    pub area: Option<f64>,
    #[serde(default)]
    pub iscrowd: u8,
}

/// One `categories` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct CategoryEntry {
    pub id: u64,
    pub name: String,
}

/// One `videos` entry (COCO-VID).
#[derive(Debug, Clone, Deserialize)]
pub struct VideoEntry {
    pub id: u64,
}

/// One results entry.
#[derive(Debug, Clone, Deserialize)]
struct ResultEntry {
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    score: f64,
}

/// A decoded ground-truth file, entries in file order.
#[derive(Debug, Clone)]
pub struct GroundTruthFile {
    pub videos: Option<Vec<VideoEntry>>,
    pub images: Vec<ImageEntry>,
    pub annotations: Vec<AnnotationEntry>,
    pub categories: Vec<CategoryEntry>,
}

/// Reads and parses a JSON file, naming it on failure.
fn read_json(path: &Path) -> Result<Value, StageError> {
    let raw = read_file(path)?;
    serde_json::from_slice(&raw).map_err(|e| {
        file_error(
            path,
            format!("is not valid JSON ({e}); check the file is complete"),
        )
    })
}

/// Decodes each element of a JSON list; an error names the list and entry.
fn entries<T: DeserializeOwned>(
    path: &Path,
    list: &str,
    value: &Value,
) -> Result<Vec<T>, StageError> {
    let Some(items) = value.as_array() else {
        return Err(file_error(path, format!("`{list}` must be a list")));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            T::deserialize(item)
                .map_err(|e| file_error(path, format!("{}: {e}", entry_name(list, i, item))))
        })
        .collect()
}

/// `annotations[3] (id 17)`, or without the id where the entry has none.
fn entry_name(list: &str, i: usize, item: &Value) -> String {
    match item.get("id") {
        Some(id) => format!("{list}[{i}] (id {id})"),
        None => format!("{list}[{i}]"),
    }
}

/// A required list of the ground-truth object.
fn list<'a>(path: &Path, root: &'a Value, key: &str) -> Result<&'a Value, StageError> {
    root.get(key).ok_or_else(|| {
        file_error(
            path,
            format!("has no `{key}` list; a COCO ground-truth file needs `images`, `annotations` and `categories`"),
        )
    })
}

/// A box must be finite with non-negative size.
fn check_bbox(path: &Path, what: &str, bbox: &[f64; 4]) -> Result<(), StageError> {
    if bbox.iter().all(|v| v.is_finite()) && bbox[2] >= 0.0 && bbox[3] >= 0.0 {
        return Ok(());
    }
    Err(file_error(
        path,
        format!("{what}: bbox {bbox:?} must be finite [x, y, w, h] with w, h >= 0"),
    ))
}

impl GroundTruthFile {
    /// Reads a COCO (or COCO-VID) ground-truth file and checks that ids are
    /// unique and every annotation names a known image and category.
    pub fn read(path: &Path) -> Result<Self, StageError> {
        let root = read_json(path)?;
        if !root.is_object() {
            return Err(file_error(
                path,
                "must be a JSON object with `images`, `annotations` and `categories`",
            ));
        }
        let videos = match root.get("videos") {
            Some(v) => Some(entries(path, "videos", v)?),
            None => None,
        };
        let file = GroundTruthFile {
            videos,
            images: entries(path, "images", list(path, &root, "images")?)?,
            annotations: entries(path, "annotations", list(path, &root, "annotations")?)?,
            categories: entries(path, "categories", list(path, &root, "categories")?)?,
        };
        file.check(path)?;
        Ok(file)
    }

    fn check(&self, path: &Path) -> Result<(), StageError> {
        unique(path, "images", self.images.iter().map(|e| e.id))?;
        unique(path, "annotations", self.annotations.iter().map(|e| e.id))?;
        unique(path, "categories", self.categories.iter().map(|e| e.id))?;
        let images: BTreeSet<u64> = self.images.iter().map(|e| e.id).collect();
        let cats: BTreeSet<u64> = self.categories.iter().map(|e| e.id).collect();
        for (i, a) in self.annotations.iter().enumerate() {
            let what = format!("annotations[{i}] (id {})", a.id);
            if !images.contains(&a.image_id) {
                return Err(file_error(
                    path,
                    format!("{what}: image_id {} is not in `images`", a.image_id),
                ));
            }
            if !cats.contains(&a.category_id) {
                return Err(file_error(
                    path,
                    format!(
                        "{what}: category_id {} is not in `categories`",
                        a.category_id
                    ),
                ));
            }
            check_bbox(path, &what, &a.bbox)?;
        }
        Ok(())
    }

    /// The evaluator's view: images and categories sorted by id, annotations
    /// in file order, crowd from `iscrowd`, area from `area` (else w·h).
    pub fn truth(&self) -> CocoTruth {
        let mut images: Vec<u64> = self.images.iter().map(|e| e.id).collect();
        images.sort_unstable();
        let names: BTreeMap<u64, String> = self
            .categories
            .iter()
            .map(|c| (c.id, c.name.clone()))
            .collect();
        CocoTruth {
            images,
            categories: names.into_iter().collect(),
            annotations: self
                .annotations
                .iter()
                .map(|a| GtBox {
                    id: a.id,
                    image: a.image_id,
                    category: a.category_id,
                    bbox: a.bbox,
                    area: a.area.unwrap_or(a.bbox[2] * a.bbox[3]),
                    crowd: a.iscrowd != 0,
                })
                .collect(),
        }
    }
}

fn unique(path: &Path, list: &str, ids: impl Iterator<Item = u64>) -> Result<(), StageError> {
    let mut seen = BTreeSet::new();
    for (i, id) in ids.enumerate() {
        if !seen.insert(id) {
            return Err(file_error(
                path,
                format!("{list}[{i}]: id {id} appears twice; ids must be unique"),
            ));
        }
    }
    Ok(())
}

/// Reads a COCO results file against its ground truth. As pycocotools'
/// `loadRes`, every `image_id` must be a ground-truth image; detections of a
/// category the ground truth does not list are left out (and counted).
pub fn read_results(path: &Path, truth: &CocoTruth) -> Result<(Vec<DtBox>, usize), StageError> {
    let root = read_json(path)?;
    let results: Vec<ResultEntry> = entries(path, "results", &root)?;
    let images: BTreeSet<u64> = truth.images.iter().copied().collect();
    let cats: BTreeSet<u64> = truth.categories.iter().map(|c| c.0).collect();
    let mut dts = Vec::with_capacity(results.len());
    let mut unknown_category = 0;
    for (i, r) in results.into_iter().enumerate() {
        let what = format!("results[{i}]");
        if !images.contains(&r.image_id) {
            return Err(file_error(
                path,
                format!("{what}: image_id {} is not an image of the ground truth; results must be for the ground truth's images", r.image_id),
            ));
        }
        check_bbox(path, &what, &r.bbox)?;
        if !r.score.is_finite() {
            return Err(file_error(
                path,
                format!("{what}: score must be a finite number"),
            ));
        }
        if !cats.contains(&r.category_id) {
            unknown_category += 1;
            continue;
        }
        dts.push(DtBox {
            image: r.image_id,
            category: r.category_id,
            bbox: r.bbox,
            score: r.score,
        });
    }
    Ok((dts, unknown_category))
}
