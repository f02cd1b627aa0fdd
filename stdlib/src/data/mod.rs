//! Dataset stage implementations: decoding real files (UCI digits, MNIST IDX,
//! CIFAR-10 binary batches), generating procedural images, and subsetting
//! (split, sample, labelled/unlabelled). Every bad input file gives a
//! `StageError::File` naming the file, the problem and what to do; nothing here
//! panics on file content.

pub mod av;
pub mod ave_h5;
pub mod cifar;
pub mod coco_json;
pub mod coco_vid;
pub mod digits;
pub mod idx;
pub mod image_folder;
pub mod image_stream;
pub mod moving_shapes;
pub mod regions;
pub mod shapes;
pub mod subsets;
pub mod video;

use crate::artifact::Artifact;
use crate::dataset::{Dataset, DatasetData, ImageSet};
use crate::stage::{StageError, StageOutput};
use crate::task_kinds;
use flate2::read::GzDecoder;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// The two bytes every gzip stream starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A file problem, naming the file.
pub(crate) fn file_error(path: &Path, message: impl Into<String>) -> StageError {
    StageError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads a whole file.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, StageError> {
    std::fs::read(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => {
                "not found; check the path (relative paths start at the .pipe file's directory)"
            }
            std::io::ErrorKind::PermissionDenied => "permission denied",
            _ => "cannot be read",
        };
        file_error(path, format!("{hint} ({e})"))
    })
}

/// Reads a file that may be gzip-compressed: decompressed when it starts with
/// the gzip magic, as is otherwise. A `.gz` name without gzip content is an error,
/// since it means the file is not what its name says.
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, StageError> {
    let raw = read_file(path)?;
    let named_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if raw.starts_with(&GZIP_MAGIC) {
        return gunzip(&raw).map_err(|e| {
            file_error(path, format!("is not a valid gzip stream ({e}); re-download it or pass the uncompressed file"))
        });
    }
    if named_gz {
        return Err(file_error(
            path,
            "is named `.gz` but is not gzip-compressed (no gzip header); rename it or pass the right file",
        ));
    }
    Ok(raw)
}

/// Decompresses one gzip stream held in memory.
pub(crate) fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// `"0"`, `"1"`, ... for datasets whose classes are digits.
pub(crate) fn digit_names(classes: usize) -> Vec<String> {
    (0..classes).map(|c| c.to_string()).collect()
}

/// A classification dataset of images.
pub(crate) fn classify_set(name: impl Into<String>, images: ImageSet) -> Dataset {
    Dataset {
        name: name.into(),
        task: task_kinds::CLASSIFY,
        data: DatasetData::Images(images),
    }
}

/// The headline numbers of one image set.
pub(crate) fn size_metrics<'a>(
    prefix: &str,
    images: impl Into<crate::dataset::ImageView<'a>>,
) -> BTreeMap<String, f64> {
    let images = images.into();
    BTreeMap::from([
        (format!("{prefix}samples"), images.len() as f64),
        ("classes".to_string(), images.classes() as f64),
    ])
}

/// A stage output holding one image dataset (in memory or streamed), with
/// `samples` and `classes`.
pub(crate) fn single_output(dataset: Dataset) -> Result<StageOutput, StageError> {
    let metrics = size_metrics("", dataset.image_view()?);
    Ok(StageOutput::single(Artifact::Dataset(Arc::new(dataset))).with_metrics(&metrics))
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Running a stage in tests: a context rooted at a scratch directory.

    use crate::stage::{NoProgress, StageContext, StageInput};
    use crate::{Input, StageError, StageOutput};
    use pipe_lang::value::Value;
    use std::path::{Path, PathBuf};
    use std::sync::atomic::AtomicBool;

    /// A fresh directory under the system temp dir, removed when dropped.
    pub struct Scratch(pub PathBuf);

    impl Scratch {
        pub fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("pipe-h3-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create scratch dir");
            Scratch(dir)
        }

        pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, bytes).expect("write scratch file");
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    pub fn args(pairs: Vec<(&str, Input)>) -> StageInput {
        StageInput {
            args: pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }

    pub fn val(v: Value) -> Input {
        Input::Value(v)
    }

    pub fn run_in(
        dir: &Path,
        run: crate::stage::RunFn,
        input: &StageInput,
    ) -> Result<StageOutput, StageError> {
        let cancel = AtomicBool::new(false);
        let ctx = StageContext {
            base_dir: dir.to_path_buf(),
            progress: &NoProgress,
            cancel: &cancel,
        };
        run(input, &ctx)
    }

    /// The single dataset a stage produced.
    pub fn dataset(out: &StageOutput) -> &crate::dataset::Dataset {
        match &out.outputs {
            crate::stage::Outputs::Single(crate::Artifact::Dataset(d)) => d,
            other => panic!("expected one dataset, got {other:?}"),
        }
    }

    /// One named dataset of a record output.
    pub fn field<'a>(out: &'a StageOutput, name: &str) -> &'a crate::dataset::Dataset {
        match &out.outputs {
            crate::stage::Outputs::Record(fields) => match fields.get(name) {
                Some(crate::Artifact::Dataset(d)) => d,
                other => panic!("field {name}: {other:?}"),
            },
            other => panic!("expected a record, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::{args, dataset, run_in, val, Scratch};
    use crate::Stdlib;
    use pipe_lang::value::Value;

    #[test]
    fn catalog_runs_digits_with_headline_metrics() {
        let run = Stdlib::get()
            .implementation("dataset", "digits")
            .expect("digits implemented");
        let out = run_in(std::path::Path::new("."), run, &args(vec![])).expect("digits");
        assert_eq!(out.metrics.get("samples"), Some(&1797.0));
        assert_eq!(out.metrics.get("classes"), Some(&10.0));
        assert_eq!(dataset(&out).name, "digits");
    }

    #[test]
    fn file_parameters_resolve_against_the_pipe_directory() {
        let dir = Scratch::new("resolve");
        let mut images = Vec::new();
        for w in [2051u32, 1, 2, 2] {
            images.extend_from_slice(&w.to_be_bytes());
        }
        images.extend_from_slice(&[0, 255, 255, 0]);
        let mut labels = Vec::new();
        for w in [2049u32, 1] {
            labels.extend_from_slice(&w.to_be_bytes());
        }
        labels.push(4);
        std::fs::create_dir_all(dir.0.join("raw")).expect("mkdir");
        dir.write("raw/images.idx", &images);
        dir.write("raw/labels.idx", &labels);
        let run = Stdlib::get()
            .implementation("dataset", "mnist")
            .expect("mnist implemented");
        let input = args(vec![
            ("images", val(Value::Str("raw/images.idx".into()))),
            ("labels", val(Value::Str("raw/labels.idx".into()))),
        ]);
        let out = run_in(&dir.0, run, &input).expect("relative paths resolve");
        let set = dataset(&out).images().expect("images");
        assert_eq!(
            (set.y.clone(), set.x.clone()),
            (vec![4], vec![0.0, 1.0, 1.0, 0.0])
        );
        let err = run_in(std::path::Path::new("/"), run, &input)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/raw/images.idx") && err.contains("not found"),
            "{err}"
        );
    }
}
