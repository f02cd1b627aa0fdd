//! The `Dataset` artifact: what every dataset stage produces and every learning
//! stage consumes. Images are stored N×C×H×W as f32 in [0, 1], labels as class
//! indices. Later tasks (detection, video, audio-visual) add payload variants.

pub use crate::data::video::{BoxLabel, FrameInfo, VideoSet};

use crate::artifact::{f32_bytes, f32_from_bytes, file, json_bytes, json_file, Files};
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
    /// Images read from their files a batch at a time (`image_folder(stream: true)`).
    ImageStream(crate::data::image_stream::ImageStream),
    /// Video frames with boxes (`dataset.moving_shapes`, `dataset.coco_vid`).
    Videos(VideoSet),
    /// Audio-visual event segments (`dataset.av_events`, `dataset.ave`).
    AvSegments(crate::data::av::AvSegments),
    /// Images partitioned into regions with a noun each (`dataset.regions`).
    Regions(crate::data::regions::RegionSet),
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

/// The stages that read a streamed image set (named in the error of the others).
pub const STREAM_READERS: &str =
    "model.* (as `input:`), train.supervised, eval.classify, dataset.split, dataset.sample and \
     dataset.labeled";

/// A classification set of images held in memory or streamed from its files.
#[derive(Clone, Copy)]
pub enum ImageView<'a> {
    Memory(&'a ImageSet),
    Stream(&'a crate::data::image_stream::ImageStream),
}

impl<'a> ImageView<'a> {
    pub fn labels(&self) -> &'a [u32] {
        match self {
            ImageView::Memory(set) => &set.y,
            ImageView::Stream(stream) => &stream.y,
        }
    }

    pub fn len(&self) -> usize {
        self.labels().len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels().is_empty()
    }

    pub fn class_names(&self) -> &'a [String] {
        match self {
            ImageView::Memory(set) => &set.class_names,
            ImageView::Stream(stream) => &stream.class_names,
        }
    }

    pub fn classes(&self) -> usize {
        self.class_names().len()
    }

    /// Channels, height, width of one image.
    pub fn shape(&self) -> [usize; 3] {
        match self {
            ImageView::Memory(set) => [set.channels, set.height, set.width],
            ImageView::Stream(stream) => stream.shape(),
        }
    }

    /// The images at `indices`, in that order, in the same form.
    pub fn select(&self, indices: &[usize]) -> DatasetData {
        match self {
            ImageView::Memory(set) => DatasetData::Images(set.select(indices)),
            ImageView::Stream(stream) => DatasetData::ImageStream(stream.select(indices)),
        }
    }
}

/// The images as the training loop and inference read them.
impl pipe_nn::train::SampleSource for ImageView<'_> {
    fn labels(&self) -> &[u32] {
        ImageView::labels(self)
    }

    fn shape(&self) -> [usize; 3] {
        ImageView::shape(self)
    }

    fn read(&self, indices: &[usize]) -> Result<Vec<f32>, pipe_nn::train::SampleError> {
        match *self {
            ImageView::Memory(set) => pipe_nn::train::Images {
                x: &set.x,
                y: &set.y,
                shape: [set.channels, set.height, set.width],
            }
            .read(indices),
            ImageView::Stream(stream) => stream.read(indices),
        }
    }
}

impl<'a> From<&'a ImageSet> for ImageView<'a> {
    fn from(set: &'a ImageSet) -> Self {
        ImageView::Memory(set)
    }
}

/// `dataset.json`: what every dataset has; the payload's own files sit beside it.
#[derive(Serialize, Deserialize)]
struct Header {
    name: String,
    #[serde(deserialize_with = "crate::task_kinds::deserialize")]
    task: Task,
    /// Which `DatasetData` variant the other files hold.
    kind: String,
}

impl DatasetData {
    /// The payload's name in `dataset.json`.
    pub fn kind(&self) -> &'static str {
        match self {
            DatasetData::Images(_) => "images",
            DatasetData::ImageStream(_) => "image_stream",
            DatasetData::Videos(_) => "videos",
            DatasetData::AvSegments(_) => "av_segments",
            DatasetData::Regions(_) => "regions",
        }
    }

    fn to_files(&self) -> Result<Files, StageError> {
        match self {
            DatasetData::Images(set) => set.to_files(),
            DatasetData::ImageStream(set) => set.to_files(),
            DatasetData::Videos(set) => set.to_files(),
            DatasetData::AvSegments(set) => set.to_files(),
            DatasetData::Regions(set) => set.to_files(),
        }
    }

    fn from_files(kind: &str, files: &Files) -> Result<Self, StageError> {
        match kind {
            "images" => Ok(DatasetData::Images(ImageSet::from_files(files)?)),
            "image_stream" => Ok(DatasetData::ImageStream(
                crate::data::image_stream::ImageStream::from_files(files)?,
            )),
            "videos" => Ok(DatasetData::Videos(VideoSet::from_files(files)?)),
            "av_segments" => Ok(DatasetData::AvSegments(
                crate::data::av::AvSegments::from_files(files)?,
            )),
            "regions" => Ok(DatasetData::Regions(
                crate::data::regions::RegionSet::from_files(files)?,
            )),
            other => Err(StageError::Corrupt(format!(
                "unknown dataset payload `{other}`"
            ))),
        }
    }
}

impl ImageSet {
    fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("images.json".to_string(), json_bytes(self)?),
            ("x.f32".to_string(), f32_bytes(&self.x)),
        ]))
    }

    fn from_files(files: &Files) -> Result<Self, StageError> {
        let mut images: ImageSet = json_file(files, "images.json")?;
        images.x = f32_from_bytes(file(files, "x.f32")?, "x.f32")?;
        if images.x.len() != images.len() * images.image_len() {
            return Err(StageError::Corrupt("`x.f32` has the wrong length".into()));
        }
        Ok(images)
    }
}

/// The longest name `Dataset::derived_name` gives without shortening it.
pub const MAX_NAME: usize = 96;
/// Bytes of the origin a shortened name keeps.
const ORIGIN_CHARS: usize = 32;

impl Dataset {
    /// The name of a dataset made from this one by a stage (`part`: `sample`,
    /// `split.train`, ...): `<name>/<part>`, or, once that would be longer than
    /// `MAX_NAME`, `<origin>/~<digest>/<part>` where `origin` is the name's first
    /// segment (at most 32 bytes) and `digest` 12 hex digits of the whole path.
    /// Stored in every cache entry, so a chain of 10,000 stages must not grow it
    /// by a segment per stage; the digest keeps different chains apart.
    pub fn derived_name(&self, part: &str) -> String {
        let full = format!("{}/{part}", self.name);
        if full.len() <= MAX_NAME {
            return full;
        }
        let first = self.name.split('/').next().unwrap_or_default();
        let mut cut = first.len().min(ORIGIN_CHARS);
        while !first.is_char_boundary(cut) {
            cut -= 1;
        }
        let digest = blake3::hash(full.as_bytes()).to_hex();
        format!("{}/~{}/{part}", &first[..cut], &digest[..12])
    }

    pub fn images(&self) -> Result<&ImageSet, StageError> {
        match &self.data {
            DatasetData::Images(set) => Ok(set),
            DatasetData::ImageStream(_) => Err(StageError::Invalid(format!(
                "`{}` streams its images from disk (`stream: true`) and this stage needs them \
                 in memory; streams are read by {STREAM_READERS}; drop `stream: true` (or \
                 `dataset.sample` a part that fits in memory) to use this stage",
                self.name
            ))),
            other => Err(StageError::Invalid(format!(
                "`{}` holds {}; this stage needs a dataset of images",
                self.name,
                other.kind()
            ))),
        }
    }

    /// The labelled images, in memory or streamed: what the stages that accept
    /// `stream: true` read.
    pub fn image_view(&self) -> Result<ImageView<'_>, StageError> {
        match &self.data {
            DatasetData::ImageStream(stream) => Ok(ImageView::Stream(stream)),
            _ => self.images().map(ImageView::Memory),
        }
    }

    /// The region images (`dataset.regions`).
    pub fn regions(&self) -> Result<&crate::data::regions::RegionSet, StageError> {
        match &self.data {
            DatasetData::Regions(set) => Ok(set),
            other => Err(StageError::Invalid(format!(
                "`{}` holds {}; this stage needs images with regions (`dataset.regions`)",
                self.name,
                other.kind()
            ))),
        }
    }

    /// The audio-visual event segments (`dataset.av_events`, `dataset.ave`).
    pub fn av_segments(&self) -> Result<&crate::data::av::AvSegments, StageError> {
        match &self.data {
            DatasetData::AvSegments(set) => Ok(set),
            other => Err(StageError::Invalid(format!(
                "`{}` holds {}; this stage needs audio-visual event segments (`dataset.av_events` or `dataset.ave`)",
                self.name,
                other.kind()
            ))),
        }
    }

    pub fn videos(&self) -> Result<&VideoSet, StageError> {
        match &self.data {
            DatasetData::Videos(set) => Ok(set),
            other => Err(StageError::Invalid(format!(
                "`{}` holds {}; this stage needs a dataset of videos",
                self.name,
                other.kind()
            ))),
        }
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        let header = Header {
            name: self.name.clone(),
            task: self.task,
            kind: self.data.kind().to_string(),
        };
        let mut files = self.data.to_files()?;
        files.insert("dataset.json".to_string(), json_bytes(&header)?);
        Ok(files)
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        let header: Header = json_file(files, "dataset.json")?;
        Ok(Dataset {
            name: header.name,
            task: header.task,
            data: DatasetData::from_files(&header.kind, files)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> Dataset {
        Dataset {
            name: name.to_string(),
            task: crate::task_kinds::CLASSIFY,
            data: DatasetData::Images(ImageSet {
                channels: 1,
                height: 1,
                width: 1,
                class_names: vec!["a".into()],
                x: vec![0.0],
                y: vec![0],
            }),
        }
    }

    #[test]
    fn short_names_are_the_path_of_stages() {
        assert_eq!(named("digits").derived_name("sample"), "digits/sample");
        assert_eq!(
            named("digits/sample").derived_name("split.test"),
            "digits/sample/split.test"
        );
    }

    #[test]
    fn a_10000_stage_chain_keeps_names_short_and_distinct() {
        let mut d = named("digits");
        let mut seen = std::collections::HashSet::new();
        let mut longest = 0;
        for _ in 0..10_000 {
            d.name = d.derived_name("sample");
            longest = longest.max(d.name.len());
            assert!(seen.insert(d.name.clone()), "repeated name {}", d.name);
        }
        assert!(longest <= MAX_NAME, "{longest} bytes");
        assert!(
            d.name.starts_with("digits/~") && d.name.ends_with("/sample"),
            "{}",
            d.name
        );
        // Another chain of the same depth from another origin differs.
        let other = named("digitz/sample").derived_name("sample");
        assert_ne!(other, named("digits/sample").derived_name("sample"));
    }

    #[test]
    fn a_long_multibyte_origin_is_cut_on_a_char_boundary() {
        let origin = "é".repeat(80);
        let name = named(&origin).derived_name("sample");
        assert!(name.len() <= MAX_NAME, "{name}");
        assert!(name.starts_with(&"é".repeat(16)), "{name}");
    }
}
