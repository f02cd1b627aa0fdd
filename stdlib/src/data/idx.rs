//! `dataset.mnist(images, labels)`: MNIST-format IDX files, gzip-compressed or
//! raw. Images: magic 2051, then count, rows, cols (big-endian u32) and one byte
//! per pixel; labels: magic 2049, then count and one byte per label.

use super::{classify_set, digit_names, file_error, read_maybe_gzip, single_output};
use crate::dataset::ImageSet;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use std::path::Path;

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;
const CLASSES: usize = 10;

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let images_path = ctx.resolve(input.str("images")?);
    let labels_path = ctx.resolve(input.str("labels")?);
    let set = load(&images_path, &labels_path)?;
    let name = images_path.file_name().map_or_else(
        || "mnist".to_string(),
        |n| format!("mnist:{}", n.to_string_lossy()),
    );
    single_output(classify_set(name, set))
}

/// Reads and cross-checks an image file and a label file.
pub fn load(images_path: &Path, labels_path: &Path) -> Result<ImageSet, StageError> {
    let images = read_images(images_path)?;
    let labels = read_labels(labels_path)?;
    if images.count != labels.len() {
        return Err(file_error(
            labels_path,
            format!(
                "has {} labels but `{}` has {} images; pass the label file that belongs to the image file",
                labels.len(),
                images_path.display(),
                images.count
            ),
        ));
    }
    Ok(ImageSet {
        channels: 1,
        height: images.rows,
        width: images.cols,
        class_names: digit_names(CLASSES),
        x: images
            .pixels
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect(),
        y: labels,
    })
}

struct Images {
    count: usize,
    rows: usize,
    cols: usize,
    pixels: Vec<u8>,
}

/// The big-endian u32 at word `i` of the header, if the file is long enough.
fn header_word(bytes: &[u8], i: usize) -> Option<usize> {
    let b = bytes.get(i * 4..i * 4 + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn check_magic(path: &Path, bytes: &[u8], want: u32, what: &str) -> Result<(), StageError> {
    let got = header_word(bytes, 0)
        .ok_or_else(|| file_error(path, "is truncated: shorter than an IDX header"))?;
    if got != want as usize {
        return Err(file_error(
            path,
            format!("has magic number {got}, expected {want} for an IDX {what} file; check that images and labels are not swapped"),
        ));
    }
    Ok(())
}

/// The payload after a `words`-word header, exactly `len` bytes long.
fn payload<'a>(
    path: &Path,
    bytes: &'a [u8],
    words: usize,
    len: usize,
) -> Result<&'a [u8], StageError> {
    let body = &bytes[words * 4..];
    if body.len() < len {
        return Err(file_error(
            path,
            format!(
                "is truncated: header promises {len} data bytes, file has {}; re-download it",
                body.len()
            ),
        ));
    }
    if body.len() > len {
        return Err(file_error(
            path,
            format!(
                "has {} bytes after the {len} the header describes; it is not a valid IDX file",
                body.len() - len
            ),
        ));
    }
    Ok(body)
}

fn read_images(path: &Path) -> Result<Images, StageError> {
    let bytes = read_maybe_gzip(path)?;
    check_magic(path, &bytes, IMAGES_MAGIC, "image")?;
    let dims: Option<Vec<usize>> = (1..4).map(|i| header_word(&bytes, i)).collect();
    let [count, rows, cols] = dims
        .as_deref()
        .and_then(|d| <[usize; 3]>::try_from(d).ok())
        .ok_or_else(|| {
            file_error(
                path,
                "is truncated: the IDX image header needs count, rows and cols",
            )
        })?;
    if rows == 0 || cols == 0 {
        return Err(file_error(
            path,
            format!("declares {rows}×{cols} images; both sides must be positive"),
        ));
    }
    let len = count
        .checked_mul(rows)
        .and_then(|n| n.checked_mul(cols))
        .ok_or_else(|| file_error(path, "declares an impossibly large image count"))?;
    let pixels = payload(path, &bytes, 4, len)?.to_vec();
    Ok(Images {
        count,
        rows,
        cols,
        pixels,
    })
}

fn read_labels(path: &Path) -> Result<Vec<u32>, StageError> {
    let bytes = read_maybe_gzip(path)?;
    check_magic(path, &bytes, LABELS_MAGIC, "label")?;
    let count = header_word(&bytes, 1)
        .ok_or_else(|| file_error(path, "is truncated: the IDX label header needs a count"))?;
    let body = payload(path, &bytes, 2, count)?;
    if let Some((i, &bad)) = body
        .iter()
        .enumerate()
        .find(|(_, &l)| l as usize >= CLASSES)
    {
        return Err(file_error(
            path,
            format!("label {i} is {bad}; digit labels are 0..9"),
        ));
    }
    Ok(body.iter().map(|&l| u32::from(l)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::Scratch;
    use flate2::write::GzEncoder;
    use std::io::Write;
    use std::path::PathBuf;

    fn idx_images(count: u32, rows: u32, cols: u32, pixels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [IMAGES_MAGIC, count, rows, cols] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(pixels);
        v
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [LABELS_MAGIC, labels.len() as u32] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(labels);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).expect("gzip in memory");
        enc.finish().expect("gzip in memory")
    }

    fn message(err: StageError) -> String {
        match err {
            StageError::File { message, .. } => message,
            other => panic!("expected a file error, got {other}"),
        }
    }

    #[test]
    fn reads_raw_and_gzip_alike() {
        let dir = Scratch::new("idx-ok");
        let pixels: Vec<u8> = (0..2 * 3 * 2).map(|i| (i * 20) as u8).collect();
        let images = idx_images(2, 3, 2, &pixels);
        let labels = idx_labels(&[7, 1]);
        let raw = load(&dir.write("i.idx", &images), &dir.write("l.idx", &labels)).expect("raw");
        let gz = load(
            &dir.write("i.gz", &gzip(&images)),
            &dir.write("l.gz", &gzip(&labels)),
        )
        .expect("gz");
        assert_eq!(raw, gz);
        assert_eq!((raw.len(), raw.height, raw.width), (2, 3, 2));
        assert_eq!(raw.y, vec![7, 1]);
        assert_eq!(raw.image(1)[0], 120.0 / 255.0);
    }

    #[test]
    fn wrong_magic_suggests_a_swap() {
        let dir = Scratch::new("idx-magic");
        let labels = dir.write("l.idx", &idx_labels(&[1]));
        let err = load(&labels, &labels).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("l.idx") && text.contains("magic number 2049, expected 2051"),
            "{text}"
        );
    }

    #[test]
    fn truncated_images_are_reported() {
        let dir = Scratch::new("idx-trunc");
        let images = dir.write("i.idx", &idx_images(3, 2, 2, &[0; 10]));
        let labels = dir.write("l.idx", &idx_labels(&[0, 1, 2]));
        assert!(message(load(&images, &labels).unwrap_err())
            .contains("truncated: header promises 12 data bytes, file has 10"));
        let stub = dir.write("s.idx", &IMAGES_MAGIC.to_be_bytes());
        assert!(message(load(&stub, &labels).unwrap_err()).contains("truncated"));
    }

    #[test]
    fn trailing_bytes_and_empty_shapes_are_rejected() {
        let dir = Scratch::new("idx-extra");
        let labels = dir.write("l.idx", &idx_labels(&[0]));
        let images = dir.write("i.idx", &idx_images(1, 1, 1, &[0, 9]));
        assert!(message(load(&images, &labels).unwrap_err()).contains("has 1 bytes after the 1"));
        let images = dir.write("z.idx", &idx_images(1, 0, 28, &[]));
        assert!(message(load(&images, &labels).unwrap_err()).contains("declares 0×28 images"));
    }

    #[test]
    fn label_count_mismatch_names_both_files() {
        let dir = Scratch::new("idx-count");
        let images = dir.write("i.idx", &idx_images(2, 1, 1, &[0, 0]));
        let labels = dir.write("l.idx", &idx_labels(&[0, 1, 2]));
        let text = load(&images, &labels).unwrap_err().to_string();
        assert!(
            text.contains("has 3 labels") && text.contains("has 2 images"),
            "{text}"
        );
    }

    #[test]
    fn gz_name_without_gzip_content_is_rejected() {
        let dir = Scratch::new("idx-notgz");
        let images = dir.write("i.gz", &idx_images(1, 1, 1, &[0]));
        let labels = dir.write("l.idx", &idx_labels(&[0]));
        assert!(message(load(&images, &labels).unwrap_err()).contains("not gzip-compressed"));
        let mut broken = gzip(&idx_images(1, 1, 1, &[0]));
        broken.truncate(12);
        let images = dir.write("b.gz", &broken);
        assert!(message(load(&images, &labels).unwrap_err()).contains("not a valid gzip stream"));
    }

    #[test]
    fn bad_label_value_and_missing_file() {
        let dir = Scratch::new("idx-label");
        let images = dir.write("i.idx", &idx_images(1, 1, 1, &[0]));
        let labels = dir.write("l.idx", &idx_labels(&[12]));
        assert!(message(load(&images, &labels).unwrap_err()).contains("label 0 is 12"));
        let missing = dir.0.join("nope.idx");
        assert!(message(load(&missing, &labels).unwrap_err()).contains("not found"));
    }

    #[test]
    fn reads_the_shipped_mnist_10k() {
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data");
        let images = data.join("mnist10k-images-idx3-ubyte.gz");
        let set = load(&images, &data.join("mnist10k-labels-idx1-ubyte.gz"))
            .expect("shipped MNIST reads");
        assert_eq!(
            (set.len(), set.height, set.width, set.classes()),
            (10_000, 28, 28, 10)
        );
        let mut per_class = [0usize; 10];
        set.y.iter().for_each(|&c| per_class[c as usize] += 1);
        assert!(per_class.iter().all(|&n| n > 800), "{per_class:?}");
        let mean = set.x.iter().sum::<f32>() / set.x.len() as f32;
        assert!(
            (0.1..0.15).contains(&mean),
            "MNIST mean intensity is about 0.13, got {mean}"
        );
    }
}
