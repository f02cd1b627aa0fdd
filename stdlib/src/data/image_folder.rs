//! `dataset.image_folder(dir, size, channels, resize)`: a class-per-folder tree of
//! PNG and JPEG files, the layout of torchvision's `ImageFolder` (Imagenette, the
//! ImageNet subsets, a video's extracted frames sorted by class).
//!
//! Owns the folder walk, decoding and the resize to one declared size. Classes are
//! the sub-directories' names in sorted order (class k is the k-th name, as
//! torchvision numbers them); files are taken in sorted order within a class.
//! Pixels are scaled to [0, 1] (torchvision's `ToTensor`); per-channel mean/std
//! normalisation is left to the model, as for every other dataset here. Every bad
//! file is an error naming it; nothing here panics on file content.
//!
//! With `stream: true` the stage decodes nothing: it lists the files and returns
//! an [`ImageStream`] that the learning stages read a batch at a time
//! (`data/image_stream.rs`), so a folder larger than memory works.

use super::image_stream::ImageStream;
use super::{classify_set, file_error, single_output};
use crate::dataset::{Dataset, DatasetData, ImageSet};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::task_kinds;
use image::imageops::FilterType;
use image::{DynamicImage, ImageReader, Limits};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// The file extensions read, compared without case.
const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Largest side a file may declare: a decompression bomb is refused before any
/// pixel is allocated.
const MAX_SIDE: u32 = 16_384;
/// Largest allocation one decode may make.
const MAX_DECODE_BYTES: u64 = 512 << 20;

/// How images of other sizes reach `size`×`size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resize {
    /// Shorter side to `size` (bilinear), then the central square: torchvision's
    /// `Resize(size)` + `CenterCrop(size)`.
    ShorterThenCrop,
    /// Both sides to `size`, the aspect ratio not kept.
    Stretch,
    /// None: every file must already be `size`×`size`.
    Exact,
}

impl Resize {
    fn parse(name: &str) -> Result<Resize, StageError> {
        match name {
            "crop" => Ok(Resize::ShorterThenCrop),
            "stretch" => Ok(Resize::Stretch),
            "none" => Ok(Resize::Exact),
            other => Err(StageError::Invalid(format!(
                "resize must be \"crop\", \"stretch\" or \"none\", got {other:?}"
            ))),
        }
    }
}

/// What to read: the tree, the square side and the channel count (1 or 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub dir: PathBuf,
    pub size: u32,
    pub channels: usize,
    pub resize: Resize,
}

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let request = Request {
        dir: ctx.resolve(input.str("dir")?),
        size: u32::try_from(input.usize("size")?)
            .map_err(|_| StageError::Invalid("size is too large".into()))?,
        channels: match input.str("channels")? {
            "gray" => 1,
            _ => 3,
        },
        resize: Resize::parse(input.str("resize")?)?,
    };
    let name = request
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let name = format!("image_folder/{name}");
    if !input.bool("stream")? {
        return single_output(classify_set(name, load(&request)?));
    }
    single_output(Dataset {
        name,
        task: task_kinds::CLASSIFY,
        data: DatasetData::ImageStream(ImageStream::new(&request)?),
    })
}

/// Reads the whole tree into one image set.
pub fn load(request: &Request) -> Result<ImageSet, StageError> {
    let Listing { class_names, files } = list(&request.dir)?;
    let pixels: Vec<Vec<f32>> = files
        .par_iter()
        .map(|(path, _)| decode(path, request))
        .collect::<Result<_, _>>()?;
    let side = request.size as usize;
    Ok(ImageSet {
        channels: request.channels,
        height: side,
        width: side,
        class_names,
        x: pixels.concat(),
        y: files.iter().map(|&(_, label)| label).collect(),
    })
}

/// A folder's classes and images, in the set's order.
pub(crate) struct Listing {
    pub class_names: Vec<String>,
    /// Every image file with its label.
    pub files: Vec<(PathBuf, u32)>,
}

pub(crate) fn list(root: &Path) -> Result<Listing, StageError> {
    let classes = class_dirs(root)?;
    let mut files = Vec::new();
    for (label, (_, dir)) in classes.iter().enumerate() {
        let label = u32::try_from(label)
            .map_err(|_| file_error(root, "has more class folders than a label can number"))?;
        files.extend(image_files(dir)?.into_iter().map(|f| (f, label)));
    }
    Ok(Listing {
        class_names: classes.into_iter().map(|(name, _)| name).collect(),
        files,
    })
}

/// The class directories, sorted by name; hidden ones (`.git`, `.ipynb_checkpoints`)
/// are not classes.
fn class_dirs(root: &Path) -> Result<Vec<(String, PathBuf)>, StageError> {
    if !root.is_dir() {
        return Err(file_error(
            root,
            "is not a directory; pass a folder with one sub-folder of images per class",
        ));
    }
    let mut classes = Vec::new();
    for entry in read_dir(root)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        classes.push((name, entry.path()));
    }
    if classes.is_empty() {
        return Err(file_error(
            root,
            "has no class sub-folders; the layout is DIR/CLASS/IMAGE.png (or .jpg)",
        ));
    }
    classes.sort();
    Ok(classes)
}

/// The PNG and JPEG files of one class, sorted; other files are not images of the
/// set (a `README`, a `.DS_Store`). An empty class is an error: its label would never
/// occur.
fn image_files(dir: &Path) -> Result<Vec<PathBuf>, StageError> {
    let mut files: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .map(|e| e.path())
        .filter(|p| p.is_file() && has_image_extension(p))
        .collect();
    if files.is_empty() {
        return Err(file_error(
            dir,
            "holds no .png, .jpg or .jpeg file; remove the folder or add its images",
        ));
    }
    files.sort();
    Ok(files)
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>, StageError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| file_error(dir, format!("cannot be listed ({e})")))?;
    entries
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(dir, format!("cannot be listed ({e})")))
}

/// One file as `channels`×`size`×`size` planar floats in [0, 1].
pub(crate) fn decode(path: &Path, request: &Request) -> Result<Vec<f32>, StageError> {
    let image = open(path)?;
    let image = fit(image, request).map_err(|message| file_error(path, message))?;
    let side = request.size as usize;
    let mut planar = vec![0.0f32; request.channels * side * side];
    let raw = match request.channels {
        1 => image.to_luma8().into_raw(),
        _ => image.to_rgb8().into_raw(),
    };
    let plane = side * side;
    for (i, px) in raw.chunks_exact(request.channels).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            planar[c * plane + i] = f32::from(v) / 255.0;
        }
    }
    Ok(planar)
}

fn open(path: &Path) -> Result<DynamicImage, StageError> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| file_error(path, format!("cannot be opened ({e})")))?
        .with_guessed_format()
        .map_err(|e| file_error(path, format!("cannot be read ({e})")))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| {
        file_error(
            path,
            format!("cannot be decoded as PNG or JPEG ({e}); remove or re-export it"),
        )
    })
}

/// Brings one image to `size`×`size` as `request.resize` says.
fn fit(image: DynamicImage, request: &Request) -> Result<DynamicImage, String> {
    let size = request.size;
    let (w, h) = (image.width(), image.height());
    match request.resize {
        Resize::Exact if (w, h) == (size, size) => Ok(image),
        Resize::Exact => Err(format!(
            "is {w}×{h}, not {size}×{size}; with `resize: \"none\"` every image must have the \
             declared size (use `resize: \"crop\"` or `\"stretch\"` to bring it there)"
        )),
        Resize::Stretch => Ok(image.resize_exact(size, size, FilterType::Triangle)),
        Resize::ShorterThenCrop => {
            let scale = f64::from(size) / f64::from(w.min(h));
            let nw = ((f64::from(w) * scale).round() as u32).max(size);
            let nh = ((f64::from(h) * scale).round() as u32).max(size);
            let resized = image.resize_exact(nw, nh, FilterType::Triangle);
            Ok(resized.crop_imm((nw - size) / 2, (nh - size) / 2, size, size))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::Scratch;
    use image::{Rgb, RgbImage};

    fn png(dir: &Scratch, name: &str, w: u32, h: u32, color: [u8; 3]) {
        let path = dir.0.join(name);
        std::fs::create_dir_all(path.parent().expect("file in a folder")).expect("mkdir");
        RgbImage::from_pixel(w, h, Rgb(color))
            .save(&path)
            .expect("write png");
    }

    fn request(dir: &Scratch, size: u32, resize: Resize) -> Request {
        Request {
            dir: dir.0.clone(),
            size,
            channels: 3,
            resize,
        }
    }

    fn message(e: StageError) -> String {
        e.to_string()
    }

    #[test]
    fn classes_are_sorted_folders_and_pixels_planar() {
        let dir = Scratch::new("imgf-basic");
        png(&dir, "zebra/a.png", 4, 4, [255, 0, 0]);
        png(&dir, "ant/b.png", 4, 4, [0, 0, 255]);
        png(&dir, "ant/a.PNG", 4, 4, [0, 255, 0]);
        std::fs::write(dir.0.join("ant/notes.txt"), "not an image").expect("write");
        let set = load(&request(&dir, 4, Resize::Exact)).expect("reads");
        assert_eq!(set.class_names, vec!["ant", "zebra"]);
        assert_eq!(set.y, vec![0, 0, 1], "ant's two files, then zebra's");
        assert_eq!((set.channels, set.height, set.width), (3, 4, 4));
        let first = set.image(0);
        assert_eq!(
            (first[0], first[16], first[32]),
            (0.0, 1.0, 0.0),
            "a.PNG is green"
        );
        assert_eq!(set.image(2)[0], 1.0, "zebra is red in the first plane");
    }

    #[test]
    fn crop_keeps_the_centre_and_gray_has_one_channel() {
        let dir = Scratch::new("imgf-crop");
        let path = dir.0.join("c/wide.png");
        std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
        let mut img = RgbImage::from_pixel(12, 4, Rgb([0, 0, 0]));
        for y in 0..4 {
            for x in 4..8 {
                img.put_pixel(x, y, Rgb([255, 255, 255]));
            }
        }
        img.save(&path).expect("write");
        let mut req = request(&dir, 4, Resize::ShorterThenCrop);
        req.channels = 1;
        let set = load(&req).expect("reads");
        assert_eq!(set.image_len(), 16);
        assert!(
            set.image(0).iter().all(|&v| v > 0.99),
            "the white centre square survives the crop: {:?}",
            set.image(0)
        );
        let stretched = load(&request(&dir, 4, Resize::Stretch)).expect("reads");
        assert!(
            stretched.image(0)[0] < 0.01,
            "stretch keeps the black left edge"
        );
    }

    #[test]
    fn mixed_sizes_without_resize_name_the_file() {
        let dir = Scratch::new("imgf-mixed");
        png(&dir, "a/one.png", 4, 4, [1, 2, 3]);
        png(&dir, "a/two.png", 5, 4, [1, 2, 3]);
        let err = message(load(&request(&dir, 4, Resize::Exact)).unwrap_err());
        assert!(err.contains("two.png") && err.contains("5×4"), "{err}");
    }

    #[test]
    fn unreadable_file_empty_class_and_missing_dir_are_clear_errors() {
        let dir = Scratch::new("imgf-bad");
        png(&dir, "a/ok.png", 4, 4, [0, 0, 0]);
        std::fs::write(dir.0.join("a/broken.jpg"), b"\xff\xd8 not really a jpeg").expect("write");
        let err = message(load(&request(&dir, 4, Resize::Exact)).unwrap_err());
        assert!(
            err.contains("broken.jpg") && err.contains("cannot be decoded"),
            "{err}"
        );

        let empty = Scratch::new("imgf-empty");
        std::fs::create_dir_all(empty.0.join("cats")).expect("mkdir");
        let err = message(load(&request(&empty, 4, Resize::Exact)).unwrap_err());
        assert!(err.contains("cats") && err.contains("no .png"), "{err}");

        let flat = Scratch::new("imgf-flat");
        png(&flat, "x.png", 4, 4, [0, 0, 0]);
        let err = message(load(&request(&flat, 4, Resize::Exact)).unwrap_err());
        assert!(err.contains("no class sub-folders"), "{err}");

        let missing = request(&flat, 4, Resize::Exact);
        let missing = Request {
            dir: missing.dir.join("nope"),
            ..missing
        };
        assert!(message(load(&missing).unwrap_err()).contains("is not a directory"));
    }

    #[test]
    fn a_huge_declared_size_is_refused_before_decoding() {
        let dir = Scratch::new("imgf-bomb");
        let path = dir.0.join("a/bomb.png");
        std::fs::create_dir_all(path.parent().expect("folder")).expect("mkdir");
        // A valid PNG signature and IHDR declaring 100,000 × 100,000 pixels.
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend(100_000u32.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        bytes.extend((13u32).to_be_bytes());
        bytes.extend(&ihdr);
        bytes.extend(crc32(&ihdr).to_be_bytes());
        std::fs::write(&path, bytes).expect("write");
        let err = message(load(&request(&dir, 4, Resize::Stretch)).unwrap_err());
        assert!(err.contains("bomb.png"), "{err}");
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
