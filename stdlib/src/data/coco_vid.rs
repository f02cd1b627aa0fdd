//! `dataset.coco_vid(annotations, images, labeled_every)`: real annotated video
//! in the COCO-VID JSON layout. `videos` lists the videos; each `images` entry
//! names its `file_name` (relative to `images`), `video_id` and `frame_id`;
//! `annotations` give `bbox` [x, y, w, h] in pixels, `category_id` and
//! `iscrowd`. Frames are decoded from PNG or JPEG as RGB in [0, 1]; videos are
//! ordered by id, frames by `frame_id`; classes are the categories sorted by id.
//! Every problem (bad JSON, a missing or undecodable image, frames of different
//! sizes, a box outside its image) is an error naming the file and the entry.

use super::coco_json::{AnnotationEntry, GroundTruthFile, ImageEntry};
use super::video::{BoxLabel, FrameInfo, VideoSet};
use super::{file_error, read_file};
use crate::artifact::Artifact;
use crate::dataset::{Dataset, DatasetData};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::task_kinds;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// How far (pixels) a box may reach past its image's border and still be
/// accepted (then clipped): annotation tools round coordinates.
const BORDER_SLACK: f64 = 0.5;

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let annotations = ctx.resolve(input.str("annotations")?);
    let images = ctx.resolve(input.str("images")?);
    let labeled_every = input.usize("labeled_every")?.max(1);
    let set = load(&annotations, &images, labeled_every, || {
        ctx.check_cancelled()
    })?;
    let metrics = set.summary();
    let dataset = Dataset {
        name: "coco_vid".into(),
        task: task_kinds::VIDEO_DETECT,
        data: DatasetData::Videos(set),
    };
    Ok(StageOutput::single(Artifact::Dataset(Arc::new(dataset))).with_metrics(&metrics))
}

/// An image entry with the COCO-VID fields it must have.
struct Frame<'a> {
    entry: &'a ImageEntry,
    name: String,
    file_name: &'a str,
    video: u64,
    frame: u64,
}

/// Reads the annotation file and every frame; `frame t` of a video (in
/// `frame_id` order) is labelled iff `t % labeled_every == 0`.
pub fn load(
    annotations: &Path,
    images_dir: &Path,
    labeled_every: usize,
    check_cancelled: impl Fn() -> Result<(), StageError>,
) -> Result<VideoSet, StageError> {
    let gt = GroundTruthFile::read(annotations)?;
    let frames = frames_in_order(annotations, &gt)?;
    let classes: BTreeMap<u64, usize> = {
        let mut ids: Vec<u64> = gt.categories.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect()
    };
    let mut names: Vec<(u64, String)> = gt
        .categories
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    names.sort_unstable();
    let mut set = VideoSet {
        channels: 3,
        height: 0,
        width: 0,
        class_names: names.into_iter().map(|(_, n)| n).collect(),
        frames: Vec::with_capacity(frames.len()),
        x: Vec::new(),
        motion: None,
    };
    // Per image: (entry name, annotation) in file order.
    let mut raw: BTreeMap<u64, Vec<(String, &AnnotationEntry)>> = BTreeMap::new();
    for (i, a) in gt.annotations.iter().enumerate() {
        let what = format!("annotations[{i}] (id {})", a.id);
        raw.entry(a.image_id).or_default().push((what, a));
    }
    let mut video_index = 0;
    for (k, f) in frames.iter().enumerate() {
        check_cancelled()?;
        if k > 0 && frames[k - 1].video != f.video {
            video_index += 1;
        }
        let index = match k {
            0 => 0,
            _ if frames[k - 1].video != f.video => 0,
            _ => set.frames[k - 1].index + 1,
        };
        let pixels = decode(annotations, images_dir, f)?;
        append_frame(&mut set, annotations, f, pixels)?;
        let mut boxes = Vec::new();
        for (what, a) in raw.remove(&f.entry.id).unwrap_or_default() {
            let b = box_label(annotations, &what, a.bbox, (set.width, set.height))?;
            boxes.push(BoxLabel {
                class: classes[&a.category_id] as u32,
                crowd: a.iscrowd != 0,
                ..b
            });
        }
        set.frames.push(FrameInfo {
            video: video_index,
            index,
            labeled: index % labeled_every == 0,
            boxes,
        });
    }
    set.validate()?;
    Ok(set)
}

/// The image entries with their COCO-VID fields, ordered by video id then
/// `frame_id`; every `video_id` must be listed in `videos` when that exists.
fn frames_in_order<'a>(path: &Path, gt: &'a GroundTruthFile) -> Result<Vec<Frame<'a>>, StageError> {
    let Some(videos) = &gt.videos else {
        return Err(file_error(path, "has no `videos` list; a COCO-VID file lists its videos (use `eval.detect_files` for plain COCO)"));
    };
    let known: std::collections::BTreeSet<u64> = videos.iter().map(|v| v.id).collect();
    let mut frames = Vec::with_capacity(gt.images.len());
    for (i, e) in gt.images.iter().enumerate() {
        let name = format!("images[{i}] (id {})", e.id);
        let missing = |field: &str| {
            file_error(path, format!("{name}: has no `{field}`; COCO-VID images need `file_name`, `video_id` and `frame_id`"))
        };
        let video = e.video_id.ok_or_else(|| missing("video_id"))?;
        if !known.contains(&video) {
            return Err(file_error(
                path,
                format!("{name}: video_id {video} is not in `videos`"),
            ));
        }
        frames.push(Frame {
            entry: e,
            file_name: e.file_name.as_deref().ok_or_else(|| missing("file_name"))?,
            video,
            frame: e.frame_id.ok_or_else(|| missing("frame_id"))?,
            name,
        });
    }
    frames.sort_by_key(|f| (f.video, f.frame));
    if let Some(w) = frames
        .windows(2)
        .find(|w| (w[0].video, w[0].frame) == (w[1].video, w[1].frame))
    {
        return Err(file_error(
            path,
            format!(
                "{} and {}: both are frame {} of video {}",
                w[0].name, w[1].name, w[1].frame, w[1].video
            ),
        ));
    }
    Ok(frames)
}

/// A box checked against its image's size and clipped to it.
fn box_label(
    path: &Path,
    what: &str,
    bbox: [f64; 4],
    (width, height): (usize, usize),
) -> Result<BoxLabel, StageError> {
    let [x, y, w, h] = bbox;
    let (width, height) = (width as f64, height as f64);
    let outside = x < -BORDER_SLACK
        || y < -BORDER_SLACK
        || x + w > width + BORDER_SLACK
        || y + h > height + BORDER_SLACK;
    if outside {
        return Err(file_error(
            path,
            format!("{what}: bbox {bbox:?} lies outside its {width}×{height} image; fix the box or the image"),
        ));
    }
    let (x0, y0) = (x.max(0.0), y.max(0.0));
    let (x1, y1) = ((x + w).min(width), (y + h).min(height));
    Ok(BoxLabel {
        x: x0 as f32,
        y: y0 as f32,
        w: (x1 - x0).max(0.0) as f32,
        h: (y1 - y0).max(0.0) as f32,
        class: 0,
        crowd: false,
        soft: None,
    })
}

/// A decoded frame: width, height and RGB bytes.
struct Pixels {
    width: usize,
    height: usize,
    rgb: Vec<u8>,
}

fn decode(annotations: &Path, dir: &Path, f: &Frame) -> Result<Pixels, StageError> {
    let path = dir.join(f.file_name);
    if !path.is_file() {
        return Err(file_error(
            &path,
            format!("not found: {} of {} names it; check `images` (the directory `file_name` is relative to)", f.name, annotations.display()),
        ));
    }
    let bytes = read_file(&path)?;
    let img = image::load_from_memory(&bytes).map_err(|e| {
        file_error(
            &path,
            format!(
                "cannot be decoded as PNG or JPEG ({e}); named by {} of {}",
                f.name,
                annotations.display()
            ),
        )
    })?;
    let rgb = img.to_rgb8();
    Ok(Pixels {
        width: rgb.width() as usize,
        height: rgb.height() as usize,
        rgb: rgb.into_raw(),
    })
}

/// Appends a frame as planar C×H×W floats; all frames must share one size, and
/// match the entry's `width`/`height` when given.
fn append_frame(
    set: &mut VideoSet,
    annotations: &Path,
    f: &Frame,
    p: Pixels,
) -> Result<(), StageError> {
    let declared = (f.entry.width, f.entry.height);
    if let (Some(w), Some(h)) = declared {
        if (w as usize, h as usize) != (p.width, p.height) {
            return Err(file_error(
                annotations,
                format!(
                    "{}: says {w}×{h} but `{}` is {}×{}",
                    f.name, f.file_name, p.width, p.height
                ),
            ));
        }
    }
    if set.frames.is_empty() {
        (set.width, set.height) = (p.width, p.height);
    } else if (set.width, set.height) != (p.width, p.height) {
        return Err(file_error(
            annotations,
            format!(
                "{}: `{}` is {}×{} but earlier frames are {}×{}; resize the frames to one size",
                f.name, f.file_name, p.width, p.height, set.width, set.height
            ),
        ));
    }
    let n = p.width * p.height;
    for c in 0..3 {
        set.x
            .extend((0..n).map(|i| f32::from(p.rgb[3 * i + c]) / 255.0));
    }
    Ok(())
}
