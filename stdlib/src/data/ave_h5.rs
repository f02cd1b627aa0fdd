//! `dataset.ave(dir, split)`: the real AVE benchmark from the HDF5 feature files
//! AVE code bases share (YapengTian/AVE-ECCV18 `dataloader.py`):
//! `audio_feature.h5` [N, 10, 128], `visual_feature.h5` [N, 10, 7, 7, 512],
//! `labels.h5` [N, 10, 29] one-hot (28 events, background last), each under the
//! key `avadataset`, and `{train,val,test}_order.h5` with video indices under
//! `order`. Read with the pure-Rust `hdf5-reader` (no libhdf5).
//!
//! Visual maps are averaged over their 7×7 grid into one 512-d vector per
//! segment (the mean feature AVE-CLIP's second stage extracts; a file already
//! pooled to [N, 10, C] is used as is); only the split's videos are read. Every
//! missing file, missing key, wrong rank or disagreeing size is a
//! `StageError::File` naming the file and what to do; nothing here panics on
//! file content.

use super::av::{av_output, AvSegments};
use super::file_error;
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use crate::Artifact;
use hdf5_reader::{Dataset, Datatype, H5Type, Hdf5File, SliceInfo, SliceInfoElem};
use std::path::{Path, PathBuf};

/// The key every AVE feature file keeps its array under.
const FEATURE_KEY: &str = "avadataset";
/// The key of the split order files.
const ORDER_KEY: &str = "order";

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let split = input.str("split")?;
    if input.str("dir")?.is_empty() {
        return fallback(input);
    }
    let dir = ctx.resolve(input.str("dir")?);
    let set = load(&dir, split, || ctx.check_cancelled())?;
    Ok(av_output(&format!("ave/{split}"), set))
}

/// The `fallback` dataset, given back as is (with its headline numbers).
fn fallback(input: &StageInput) -> Result<StageOutput, StageError> {
    let missing = || {
        StageError::Invalid(
            "`dir` is empty and no `fallback` dataset was given; pass the AVE feature directory as `dir`".into(),
        )
    };
    let Input::Artifact(Artifact::Dataset(data)) = input.get("fallback")? else {
        return Err(missing());
    };
    let set = data.av_segments()?;
    Ok(av_output(&data.name, set.clone()))
}

/// One opened dataset and the file it came from (for error messages).
struct Array {
    path: PathBuf,
    data: Dataset,
}

impl Array {
    fn open(dir: &Path, file: &str, key: &str) -> Result<Array, StageError> {
        let path = dir.join(file);
        if !path.is_file() {
            return Err(file_error(
                &path,
                "not found; `dir` must hold the AVE feature files (audio_feature.h5, visual_feature.h5, labels.h5, {train,val,test}_order.h5); see README.md, section AVE features",
            ));
        }
        let h5 = Hdf5File::open(&path)
            .map_err(|e| file_error(&path, format!("is not a readable HDF5 file ({e})")))?;
        let data = h5.dataset(key).map_err(|e| {
            file_error(
                &path,
                format!("has no dataset `{key}` ({e}); AVE files keep their array under `{key}`"),
            )
        })?;
        Ok(Array { path, data })
    }

    fn shape(&self) -> Vec<usize> {
        self.data.shape().iter().map(|&d| d as usize).collect()
    }

    fn error(&self, message: impl Into<String>) -> StageError {
        file_error(&self.path, message)
    }

    /// The whole array, or `selection` of it, as f32.
    fn read(&self, selection: Option<&SliceInfo>) -> Result<Vec<f32>, StageError> {
        let d = &self.data;
        let values = match d.dtype() {
            Datatype::FloatingPoint { size: 4, .. } => read_as::<f32>(d, selection, |v| v),
            Datatype::FloatingPoint { size: 8, .. } => read_as::<f64>(d, selection, |v| v as f32),
            Datatype::FixedPoint { size, signed, .. } => match (size, signed) {
                (1, false) => read_as::<u8>(d, selection, f32::from),
                (1, true) => read_as::<i8>(d, selection, f32::from),
                (2, false) => read_as::<u16>(d, selection, f32::from),
                (2, true) => read_as::<i16>(d, selection, f32::from),
                (4, false) => read_as::<u32>(d, selection, |v| v as f32),
                (4, true) => read_as::<i32>(d, selection, |v| v as f32),
                (8, false) => read_as::<u64>(d, selection, |v| v as f32),
                _ => read_as::<i64>(d, selection, |v| v as f32),
            },
            other => {
                return Err(self.error(format!("holds {other:?} values; AVE arrays are numbers")))
            }
        };
        values.map_err(|e| self.error(format!("cannot be read ({e})")))
    }
}

fn read_as<T: H5Type + Copy>(
    d: &Dataset,
    selection: Option<&SliceInfo>,
    cast: impl Fn(T) -> f32,
) -> hdf5_reader::error::Result<Vec<f32>> {
    let array = match selection {
        Some(s) => d.read_slice::<T>(s)?,
        None => d.read_array::<T>()?,
    };
    Ok(array.iter().map(|&v| cast(v)).collect())
}

/// Reads the split's videos from the AVE files in `dir`; `poll` runs between
/// videos so a long read can be cancelled.
pub fn load(
    dir: &Path,
    split: &str,
    mut poll: impl FnMut() -> Result<(), StageError>,
) -> Result<AvSegments, StageError> {
    let audio = Array::open(dir, "audio_feature.h5", FEATURE_KEY)?;
    let visual = Array::open(dir, "visual_feature.h5", FEATURE_KEY)?;
    let labels = Array::open(dir, "labels.h5", FEATURE_KEY)?;
    let order = Array::open(dir, &format!("{split}_order.h5"), ORDER_KEY)?;
    let [videos, segments, audio_dim] = rank3(&audio, "[videos, 10, 128]")?;
    let [_, _, classes] = rank3(&labels, "[videos, 10, 29]")?;
    let vshape = visual.shape();
    let visual_dim = match vshape.as_slice() {
        [_, _, c] | [_, _, _, _, c] => *c,
        _ => {
            return Err(visual.error(format!(
                "`{FEATURE_KEY}` has shape {vshape:?}; expected [videos, 10, 7, 7, 512] (or pooled [videos, 10, 512])"
            )))
        }
    };
    for (array, shape) in [(&labels, labels.shape()), (&visual, vshape.clone())] {
        if shape[0] != videos || shape[1] != segments {
            return Err(array.error(format!(
                "`{FEATURE_KEY}` has shape {shape:?} but audio_feature.h5 has {videos} videos of {segments} segments; the files must come from the same release"
            )));
        }
    }
    if classes < 3 || segments == 0 || audio_dim == 0 || visual_dim == 0 {
        return Err(labels.error(format!(
            "shape {:?} leaves no events: AVE labels are one-hot over 28 events + background",
            labels.shape()
        )));
    }
    let picked = indices(&order, videos)?;
    let audio_all = audio.read(None)?;
    let label_all = labels.read(None)?;
    let mut set = AvSegments {
        segments,
        audio_dim,
        visual_dim,
        class_names: (0..classes - 1)
            .map(|c| format!("event{c}"))
            .chain(["background".to_string()])
            .collect(),
        audio: Vec::with_capacity(picked.len() * segments * audio_dim),
        visual: Vec::with_capacity(picked.len() * segments * visual_dim),
        labels: Vec::with_capacity(picked.len() * segments),
    };
    let grid = if vshape.len() == 5 {
        vshape[2] * vshape[3]
    } else {
        1
    };
    for &v in &picked {
        poll()?;
        let cells = segments * audio_dim;
        set.audio
            .extend_from_slice(&audio_all[v * cells..(v + 1) * cells]);
        for row in label_all[v * segments * classes..(v + 1) * segments * classes].chunks(classes) {
            set.labels.push(pipe_nn::loss::argmax(row) as u32);
        }
        let mut selection = SliceInfo::all(vshape.len());
        selection.selections[0] = SliceInfoElem::Index(v as u64);
        let maps = visual.read(Some(&selection))?;
        pool(&maps, segments, grid, visual_dim, &mut set.visual);
    }
    Ok(set)
}

/// The three sizes of a rank-3 array, or an error quoting the expected layout.
fn rank3(array: &Array, expected: &str) -> Result<[usize; 3], StageError> {
    match array.shape().as_slice() {
        &[a, b, c] => Ok([a, b, c]),
        other => Err(array.error(format!(
            "`{FEATURE_KEY}` has shape {other:?}; expected {expected}"
        ))),
    }
}

/// The split's video indices, each checked against the number of videos.
fn indices(order: &Array, videos: usize) -> Result<Vec<usize>, StageError> {
    let shape = order.shape();
    if shape.len() != 1 {
        return Err(order.error(format!(
            "`{ORDER_KEY}` has shape {shape:?}; expected a list of video indices"
        )));
    }
    order
        .read(None)?
        .into_iter()
        .map(|v| {
            if v >= 0.0 && v.fract() == 0.0 && (v as usize) < videos {
                Ok(v as usize)
            } else {
                Err(order.error(format!(
                    "`{ORDER_KEY}` holds {v}, not a video index below {videos}"
                )))
            }
        })
        .collect()
}

/// Averages each segment's `grid` positions of `[segments, grid, dim]` maps.
fn pool(maps: &[f32], segments: usize, grid: usize, dim: usize, out: &mut Vec<f32>) {
    for seg in maps.chunks_exact(grid * dim).take(segments) {
        let mut mean = vec![0.0f32; dim];
        for cell in seg.chunks_exact(dim) {
            mean.iter_mut().zip(cell).for_each(|(m, v)| *m += v);
        }
        out.extend(mean.iter().map(|m| m / grid as f32));
    }
}
