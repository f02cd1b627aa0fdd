//! A class-per-folder image set read from its files a batch at a time
//! (`dataset.image_folder(..., stream: true)`): the listing, labels and decode
//! settings, never the pixels, so a folder larger than memory can be trained on
//! and evaluated.
//!
//! Owns the streamed set's artifact form (`stream.json`: the folder, the files
//! relative to it, the labels) and reading a batch, which decodes exactly as the
//! in-memory path does (`image_folder::decode`), so both give the same numbers.
//! It never caches decoded pixels: memory stays one batch of decoded images.
//! The folder is named by its absolute path: the cache key already covers the
//! files' contents (the `dir` input is hashed), and a moved folder is an error
//! that names the missing file.

use super::image_folder::{decode, list, Request, Resize};
use crate::artifact::{json_bytes, json_file, Files};
use crate::StageError;
use pipe_nn::train::{SampleError, SampleSource};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageStream {
    pub root: PathBuf,
    /// Each image's path under `root`, in the set's order.
    pub files: Vec<String>,
    pub y: Vec<u32>,
    pub class_names: Vec<String>,
    pub channels: usize,
    pub size: u32,
    pub resize: Resize,
}

impl ImageStream {
    /// Lists the tree as `image_folder::load` would read it, decoding nothing.
    pub fn new(request: &Request) -> Result<ImageStream, StageError> {
        let listing = list(&request.dir)?;
        let class_names = listing.class_names;
        let mut files = Vec::with_capacity(listing.files.len());
        let mut y = Vec::with_capacity(listing.files.len());
        for (path, label) in listing.files {
            files.push(relative_name(&request.dir, &path)?);
            y.push(label);
        }
        Ok(ImageStream {
            root: request.dir.clone(),
            files,
            y,
            class_names,
            channels: request.channels,
            size: request.size,
            resize: request.resize,
        })
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn shape(&self) -> [usize; 3] {
        let side = self.size as usize;
        [self.channels, side, side]
    }

    /// The images at `indices`, in that order (no file is read).
    pub fn select(&self, indices: &[usize]) -> ImageStream {
        ImageStream {
            files: indices.iter().map(|&i| self.files[i].clone()).collect(),
            y: indices.iter().map(|&i| self.y[i]).collect(),
            root: self.root.clone(),
            class_names: self.class_names.clone(),
            ..*self
        }
    }

    fn request(&self) -> Request {
        Request {
            dir: self.root.clone(),
            size: self.size,
            channels: self.channels,
            resize: self.resize,
        }
    }

    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([(
            "stream.json".to_string(),
            json_bytes(self)?,
        )]))
    }

    /// Reads `stream.json`, refusing one whose parts disagree or whose file names
    /// leave the folder (a damaged entry must not make training read elsewhere).
    pub fn from_files(files: &Files) -> Result<ImageStream, StageError> {
        let stream: ImageStream = json_file(files, "stream.json")?;
        let corrupt = |what: &str| Err(StageError::Corrupt(format!("stream.json: {what}")));
        if stream.files.len() != stream.y.len() {
            return corrupt("file and label counts differ");
        }
        if stream.channels != 1 && stream.channels != 3 {
            return corrupt("channels must be 1 or 3");
        }
        if stream.size == 0 {
            return corrupt("size is 0");
        }
        let classes = stream.class_names.len();
        if stream.y.iter().any(|&l| l as usize >= classes) {
            return corrupt("a label is not a class");
        }
        if !stream.files.iter().all(|f| stays_inside(f)) {
            return corrupt("a file name leaves the folder");
        }
        Ok(stream)
    }
}

impl SampleSource for ImageStream {
    fn labels(&self) -> &[u32] {
        &self.y
    }

    fn shape(&self) -> [usize; 3] {
        ImageStream::shape(self)
    }

    fn read(&self, indices: &[usize]) -> Result<Vec<f32>, SampleError> {
        let request = self.request();
        let decoded: Vec<Vec<f32>> = indices
            .par_iter()
            .map(|&i| {
                let name = self.files.get(i).ok_or_else(|| {
                    SampleError(format!("sample {i} is outside a set of {}", self.len()))
                })?;
                decode(&self.root.join(name), &request).map_err(|e| SampleError(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(decoded.concat())
    }
}

/// `path` under `root` as a `/`-separated name; a name that is not UTF-8 cannot be
/// stored in the artifact and is refused with the file named.
fn relative_name(root: &Path, path: &Path) -> Result<String, StageError> {
    let inside = path.strip_prefix(root).map_err(|_| {
        super::file_error(
            path,
            "is not inside the image folder (a symlinked class folder?)",
        )
    })?;
    let parts: Option<Vec<&str>> = inside
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    parts.map(|p| p.join("/")).ok_or_else(|| {
        super::file_error(
            path,
            "has a name that is not UTF-8; rename it to stream the folder",
        )
    })
}

fn stays_inside(name: &str) -> bool {
    !name.is_empty()
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::image_folder::load;
    use crate::data::testutil::Scratch;
    use image::{Rgb, RgbImage};

    fn folder(tag: &str) -> Scratch {
        let dir = Scratch::new(tag);
        for (class, shade) in [("cat", 40u8), ("dog", 200u8)] {
            for i in 0..3u8 {
                let path = dir.0.join(class).join(format!("{i}.png"));
                std::fs::create_dir_all(path.parent().expect("in a folder")).expect("mkdir");
                RgbImage::from_fn(6 + u32::from(i), 5, |x, y| {
                    Rgb([shade, (x * 20) as u8, (y * 30 + u32::from(i)) as u8])
                })
                .save(&path)
                .expect("png");
            }
        }
        dir
    }

    fn request(dir: &Scratch) -> Request {
        Request {
            dir: dir.0.clone(),
            size: 4,
            channels: 3,
            resize: Resize::ShorterThenCrop,
        }
    }

    #[test]
    fn a_batch_equals_the_same_images_loaded_in_memory() {
        let dir = folder("stream-equal");
        let whole = load(&request(&dir)).expect("load");
        let stream = ImageStream::new(&request(&dir)).expect("list");
        assert_eq!(stream.y, whole.y);
        assert_eq!(stream.class_names, whole.class_names);
        let picked = [4, 0, 5, 2];
        let batch = stream.read(&picked).expect("read");
        assert_eq!(batch, whole.select(&picked).x);
    }

    #[test]
    fn select_keeps_labels_and_files_together() {
        let dir = folder("stream-select");
        let stream = ImageStream::new(&request(&dir)).expect("list");
        let part = stream.select(&[5, 1]);
        assert_eq!(part.files, vec!["dog/2.png", "cat/1.png"]);
        assert_eq!(part.y, vec![1, 0]);
        assert_eq!(
            part.read(&[0]).expect("read"),
            stream.read(&[5]).expect("read")
        );
    }

    #[test]
    fn a_file_removed_after_listing_is_an_error_naming_it() {
        let dir = folder("stream-removed");
        let stream = ImageStream::new(&request(&dir)).expect("list");
        std::fs::remove_file(dir.0.join("dog/1.png")).expect("rm");
        let err = stream.read(&[0, 4]).expect_err("missing file").0;
        assert!(err.contains("dog/1.png"), "{err}");
        assert!(stream.read(&[0, 1]).is_ok(), "other files still read");
    }

    #[test]
    fn the_artifact_round_trips_and_a_damaged_one_is_refused() {
        let dir = folder("stream-artifact");
        let stream = ImageStream::new(&request(&dir)).expect("list");
        let files = stream.to_files().expect("files");
        assert_eq!(ImageStream::from_files(&files).expect("back"), stream);
        for (what, edit) in [
            ("leaves the folder", r#""cat/0.png""#.to_string()),
            ("not a class", r#""y":[0,0,0,1,1,1]"#.to_string()),
        ] {
            let text = String::from_utf8(files["stream.json"].clone()).expect("utf-8");
            let damaged = if what == "not a class" {
                text.replace(&edit, r#""y":[0,0,0,1,1,7]"#)
            } else {
                text.replace(&edit, r#""../../etc/passwd""#)
            };
            assert_ne!(damaged, text, "the edit applies");
            let files = Files::from([("stream.json".to_string(), damaged.into_bytes())]);
            let err = ImageStream::from_files(&files).expect_err(what).to_string();
            assert!(err.contains(what), "{err}");
        }
    }
}
