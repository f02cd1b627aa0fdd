//! `dataset.cifar10(dir, split)`: the CIFAR-10 binary distribution. Each batch
//! file holds 3,073-byte records: one label byte, then 1,024 red, 1,024 green and
//! 1,024 blue bytes of a 32×32 image in row-major order.

use super::{classify_set, file_error, read_file, single_output};
use crate::dataset::ImageSet;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use std::path::Path;

const SIDE: usize = 32;
const CHANNELS: usize = 3;
const IMAGE_BYTES: usize = CHANNELS * SIDE * SIDE;
const RECORD: usize = 1 + IMAGE_BYTES;
const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
const TEST_FILES: [&str; 1] = ["test_batch.bin"];
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let dir = ctx.resolve(input.str("dir")?);
    let split = input.str("split")?;
    let set = load(&dir, split)?;
    single_output(classify_set(format!("cifar10/{split}"), set))
}

/// Reads every batch file of `split` (`train` or `test`) from `dir`.
pub fn load(dir: &Path, split: &str) -> Result<ImageSet, StageError> {
    let files: &[&str] = match split {
        "train" => &TRAIN_FILES,
        "test" => &TEST_FILES,
        other => {
            return Err(StageError::Invalid(format!(
                "split must be \"train\" or \"test\", got {other:?}"
            )))
        }
    };
    if !dir.is_dir() {
        return Err(file_error(
            dir,
            "is not a directory; pass the extracted `cifar-10-batches-bin` directory of the binary version \
             (https://www.cs.toronto.edu/~kriz/cifar.html)",
        ));
    }
    let mut set = ImageSet {
        channels: CHANNELS,
        height: SIDE,
        width: SIDE,
        class_names: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        x: Vec::new(),
        y: Vec::new(),
    };
    for name in files {
        read_batch(&dir.join(name), &mut set)?;
    }
    Ok(set)
}

fn read_batch(path: &Path, set: &mut ImageSet) -> Result<(), StageError> {
    if !path.exists() {
        return Err(file_error(
            path,
            "is missing; the directory must hold the CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin)",
        ));
    }
    let bytes = read_file(path)?;
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(file_error(
            path,
            format!(
                "is {} bytes, not a whole number of {RECORD}-byte records; it is truncated or not a CIFAR-10 binary batch \
                 (the Python pickle version is not supported)",
                bytes.len()
            ),
        ));
    }
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0];
        if label as usize >= CLASS_NAMES.len() {
            return Err(file_error(
                path,
                format!("record {i} has label {label}; CIFAR-10 labels are 0..9"),
            ));
        }
        set.y.push(u32::from(label));
        set.x
            .extend(record[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::Scratch;

    /// A batch of `labels.len()` records whose pixels encode record, channel and position.
    fn batch(labels: &[u8], salt: u8) -> Vec<u8> {
        let mut v = Vec::new();
        for (i, &l) in labels.iter().enumerate() {
            v.push(l);
            v.extend(
                (0..IMAGE_BYTES)
                    .map(|p| ((p / (SIDE * SIDE)) as u8 * 80).wrapping_add(i as u8 + salt)),
            );
        }
        v
    }

    #[test]
    fn reads_the_test_batch_channel_planes() {
        let dir = Scratch::new("cifar-test");
        dir.write("test_batch.bin", &batch(&[3, 9], 0));
        let set = load(&dir.0, "test").expect("test split");
        assert_eq!(
            (set.len(), set.channels, set.height, set.width),
            (2, 3, 32, 32)
        );
        assert_eq!(set.y, vec![3, 9]);
        assert_eq!(set.class_names[3], "cat");
        let img = set.image(1);
        assert_eq!(img[0], 1.0 / 255.0, "red plane first");
        assert_eq!(img[1024], 81.0 / 255.0, "green plane second");
        assert_eq!(img[2048], 161.0 / 255.0, "blue plane third");
    }

    #[test]
    fn train_split_concatenates_five_batches() {
        let dir = Scratch::new("cifar-train");
        for (k, name) in TRAIN_FILES.iter().enumerate() {
            dir.write(name, &batch(&[k as u8], 10 * k as u8));
        }
        let set = load(&dir.0, "train").expect("train split");
        assert_eq!(set.y, vec![0, 1, 2, 3, 4]);
        assert_eq!(set.image(4)[0], 40.0 / 255.0);
    }

    #[test]
    fn missing_batch_truncated_batch_and_bad_label() {
        let dir = Scratch::new("cifar-bad");
        let err = load(&dir.0, "train").unwrap_err().to_string();
        assert!(
            err.contains("data_batch_1.bin") && err.contains("missing"),
            "{err}"
        );
        let mut short = batch(&[1], 0);
        short.pop();
        dir.write("test_batch.bin", &short);
        let err = load(&dir.0, "test").unwrap_err().to_string();
        assert!(err.contains("3072 bytes, not a whole number"), "{err}");
        dir.write("test_batch.bin", &batch(&[10], 0));
        let err = load(&dir.0, "test").unwrap_err().to_string();
        assert!(err.contains("record 0 has label 10"), "{err}");
        let err = load(&dir.0.join("absent"), "test").unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
