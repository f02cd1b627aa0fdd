//! The video detection payload (`DatasetData::Videos`, kind `videos`): frames of
//! several videos, N×C×H×W f32 in [0, 1], each frame with its video, its place in
//! the video, whether training may see its labels, and its ground-truth boxes;
//! optionally the true per-pixel motion (procedural data only). Owns the payload's
//! persistence (`videos.json`, `x.f32`, `motion.f32`); never decodes image files
//! or generates frames (`moving_shapes`, `coco_vid` do).

use crate::artifact::{f32_bytes, f32_from_bytes, file, json_bytes, json_file, Files};
use crate::detection::Rect;
use crate::StageError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// Frames of one or more videos, stored video after video, frames in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoSet {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub class_names: Vec<String>,
    /// One entry per frame, in the order of `x`.
    pub frames: Vec<FrameInfo>,
    /// `frames.len() * channels * height * width` values in [0, 1].
    #[serde(skip)]
    pub x: Vec<f32>,
    /// True motion, `frames.len() * 2 * height * width` values: for each pixel of
    /// frame t, its displacement (dx plane, then dy plane) in pixels to where it
    /// is in frame t+1 of the same video; zero on a video's last frame.
    #[serde(skip)]
    pub motion: Option<Vec<f32>>,
}

/// What is known about one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameInfo {
    /// Index of the video this frame belongs to (0-based, dense).
    pub video: usize,
    /// Position of the frame within its video (0-based).
    pub index: usize,
    /// Whether training may see `boxes`; unlabelled frames keep their true boxes
    /// only for evaluation and pseudo-label precision/recall.
    pub labeled: bool,
    pub boxes: Vec<BoxLabel>,
}

/// One ground-truth (or pseudo-label) box in pixels, COCO `bbox` layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoxLabel {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    /// Index into `class_names`.
    pub class: u32,
    /// COCO `iscrowd`: matched detections are ignored, not counted as hits.
    #[serde(default)]
    pub crowd: bool,
    /// A soft pseudo-label: the class distribution to train towards instead of a
    /// one-hot `class` (then `class` is its argmax). `None` for hard labels.
    #[serde(default)]
    pub soft: Option<Vec<f32>>,
}

impl BoxLabel {
    pub fn rect(&self) -> Rect {
        Rect {
            x: self.x,
            y: self.y,
            w: self.w,
            h: self.h,
        }
    }
}

impl VideoSet {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Values per frame.
    pub fn frame_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn frame(&self, i: usize) -> &[f32] {
        let n = self.frame_len();
        &self.x[i * n..(i + 1) * n]
    }

    /// The true motion of frame `i` (dx plane, then dy plane), when known.
    pub fn motion(&self, i: usize) -> Option<&[f32]> {
        let n = 2 * self.height * self.width;
        self.motion.as_ref().map(|m| &m[i * n..(i + 1) * n])
    }

    /// Number of videos.
    pub fn videos(&self) -> usize {
        self.frames.last().map_or(0, |f| f.video + 1)
    }

    /// The metrics a video dataset stage reports: videos, frames, labeled
    /// frames, boxes and classes.
    pub fn summary(&self) -> BTreeMap<String, f64> {
        BTreeMap::from([
            ("videos".to_string(), self.videos() as f64),
            ("frames".to_string(), self.len() as f64),
            (
                "labeled_frames".to_string(),
                self.frames.iter().filter(|f| f.labeled).count() as f64,
            ),
            (
                "boxes".to_string(),
                self.frames.iter().map(|f| f.boxes.len()).sum::<usize>() as f64,
            ),
            ("classes".to_string(), self.classes() as f64),
        ])
    }

    /// The frame indices of each video, in order.
    pub fn video_ranges(&self) -> Vec<Range<usize>> {
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for (i, f) in self.frames.iter().enumerate() {
            match ranges.last_mut() {
                Some(r) if self.frames[r.start].video == f.video => r.end = i + 1,
                _ => ranges.push(i..i + 1),
            }
        }
        ranges
    }

    /// The frame `offset` frames from `i` in the same video, if there is one.
    pub fn neighbour(&self, i: usize, offset: isize) -> Option<usize> {
        let j = i.checked_add_signed(offset)?;
        let f = self.frames.get(j)?;
        (f.video == self.frames[i].video).then_some(j)
    }

    /// Checks sizes and indices; `from_files` and the generators call it.
    pub fn validate(&self) -> Result<(), StageError> {
        let bad = |m: String| Err(StageError::Corrupt(m));
        if self.x.len() != self.len() * self.frame_len() {
            return bad("`x.f32` has the wrong length for the frames in `videos.json`".into());
        }
        if let Some(m) = &self.motion {
            if m.len() != self.len() * 2 * self.height * self.width {
                return bad("`motion.f32` has the wrong length".into());
            }
        }
        for (i, f) in self.frames.iter().enumerate() {
            if let Some(b) = f.boxes.iter().find(|b| b.class as usize >= self.classes()) {
                return bad(format!("frame {i}: box class {} out of range", b.class));
            }
            let prev = i.checked_sub(1).map(|p| &self.frames[p]);
            let ordered = match prev {
                Some(p) if p.video == f.video => f.index > p.index,
                Some(p) => f.video == p.video + 1,
                None => f.video == 0,
            };
            if !ordered {
                return bad(format!("frame {i}: videos or frames out of order"));
            }
        }
        Ok(())
    }

    pub(crate) fn to_files(&self) -> Result<Files, StageError> {
        let mut files = Files::from([
            ("videos.json".to_string(), json_bytes(self)?),
            ("x.f32".to_string(), f32_bytes(&self.x)),
        ]);
        if let Some(m) = &self.motion {
            files.insert("motion.f32".to_string(), f32_bytes(m));
        }
        Ok(files)
    }

    pub(crate) fn from_files(files: &Files) -> Result<Self, StageError> {
        let mut set: VideoSet = json_file(files, "videos.json")?;
        set.x = f32_from_bytes(file(files, "x.f32")?, "x.f32")?;
        set.motion = match files.get("motion.f32") {
            Some(raw) => Some(f32_from_bytes(raw, "motion.f32")?),
            None => None,
        };
        set.validate()?;
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> VideoSet {
        let frame = |video, index, labeled| FrameInfo {
            video,
            index,
            labeled,
            boxes: vec![BoxLabel {
                x: 1.0,
                y: 0.5,
                w: 2.0,
                h: 1.5,
                class: 1,
                crowd: video == 1,
                soft: labeled.then(|| vec![0.25, 0.75]),
            }],
        };
        VideoSet {
            channels: 1,
            height: 2,
            width: 3,
            class_names: vec!["a".into(), "b".into()],
            frames: vec![frame(0, 0, true), frame(0, 1, false), frame(1, 0, false)],
            x: (0..18).map(|v| v as f32 / 18.0).collect(),
            motion: Some((0..36).map(|v| v as f32 - 10.0).collect()),
        }
    }

    #[test]
    fn persistence_round_trips_exactly() {
        let set = tiny();
        let back = VideoSet::from_files(&set.to_files().expect("save")).expect("load");
        assert_eq!(back, set);
        assert_eq!(back.videos(), 2);
        assert_eq!(back.video_ranges(), vec![0..2, 2..3]);
        assert_eq!(back.neighbour(1, -1), Some(0));
        assert_eq!(back.neighbour(1, 1), None);
    }

    #[test]
    fn truncated_frames_are_refused() {
        let mut files = tiny().to_files().expect("save");
        files.insert("x.f32".into(), f32_bytes(&[0.0; 5]));
        let err = VideoSet::from_files(&files).unwrap_err().to_string();
        assert!(err.contains("x.f32"), "{err}");
    }
}
