//! The `Dataset` artifact: what every dataset stage produces and every learning
//! stage consumes. Images are stored N×C×H×W as f32 in [0, 1], labels as class
//! indices. Later tasks (detection, video, audio-visual) add payload variants.

use crate::artifact::{file, json_bytes, json_file, Files};
use crate::StageError;
use pipe_lang::types::Task;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where it came from, e.g. `digits` or `digits/split.train`.
    pub name: String,
    pub task: Task,
    pub data: DatasetData,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DatasetData {
    Images(ImageSet),
}

/// A labelled image classification set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSet {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub class_names: Vec<String>,
    /// `len() * channels * height * width` values in [0, 1].
    #[serde(skip)]
    pub x: Vec<f32>,
    pub y: Vec<u32>,
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn image(&self, i: usize) -> &[f32] {
        let n = self.image_len();
        &self.x[i * n..(i + 1) * n]
    }

    /// The subset at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> ImageSet {
        let mut x = Vec::with_capacity(indices.len() * self.image_len());
        for &i in indices {
            x.extend_from_slice(self.image(i));
        }
        ImageSet {
            x,
            y: indices.iter().map(|&i| self.y[i]).collect(),
            class_names: self.class_names.clone(),
            ..*self
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    task: Task,
    images: ImageSet,
}

impl Dataset {
    pub fn images(&self) -> Result<&ImageSet, StageError> {
        match &self.data {
            DatasetData::Images(set) => Ok(set),
        }
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        let DatasetData::Images(images) = &self.data;
        let header = Header {
            name: self.name.clone(),
            task: self.task,
            images: images.clone(),
        };
        let pixels: Vec<u8> = images.x.iter().flat_map(|v| v.to_le_bytes()).collect();
        Ok(Files::from([
            ("dataset.json".to_string(), json_bytes(&header)?),
            ("x.f32".to_string(), pixels),
        ]))
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        let header: Header = json_file(files, "dataset.json")?;
        let raw = file(files, "x.f32")?;
        let mut images = header.images;
        if raw.len() != images.len() * images.image_len() * 4 {
            return Err(StageError::Corrupt("`x.f32` has the wrong length".into()));
        }
        images.x = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(Dataset {
            name: header.name,
            task: header.task,
            data: DatasetData::Images(images),
        })
    }
}
