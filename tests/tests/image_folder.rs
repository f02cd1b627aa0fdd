//! `dataset.image_folder` end to end: a class-per-folder tree of PNG and JPEG files
//! of mixed sizes is read, trained on and evaluated by `pipe run`; a second run is
//! cached, and replacing one image's pixels reruns the dataset (the folder's
//! content, not its names, is the key).

use image::{ImageFormat, Rgb, RgbImage};
use pipe_tests::pipe;
use serde_json::Value;
use std::path::Path;

const PIPELINE: &str = "\
let data = dataset.image_folder(dir: \"photos\", size: 8, channels: \"gray\")
let parts = dataset.split(data, test: 0.25, seed: 1)
let net = model.mlp(input: data, hidden: [16], seed: 1)
let fit = train.supervised(model: net, data: parts.train, epochs: 30, lr: 0.01, seed: 1)
let acc = eval.classify(model: fit.model, data: parts.test)
";

/// Class `bright` has a light left half, class `dark` a light right half; sizes
/// and formats vary so the resize path is exercised.
fn write_tree(root: &Path) {
    for (class, light_left) in [("bright", true), ("dark", false)] {
        let dir = root.join("photos").join(class);
        std::fs::create_dir_all(&dir).expect("mkdir");
        for i in 0..24u32 {
            let (w, h) = (16 + i % 5, 12 + i % 7);
            let img = RgbImage::from_fn(w, h, |x, _| {
                let left = x < w / 2;
                let v = if left == light_left {
                    200 + (i % 50) as u8
                } else {
                    20
                };
                Rgb([v, v, v])
            });
            let (name, format) = if i % 3 == 0 {
                (format!("{i}.jpg"), ImageFormat::Jpeg)
            } else {
                (format!("{i}.png"), ImageFormat::Png)
            };
            img.save_with_format(dir.join(name), format)
                .expect("write image");
        }
    }
}

fn run(dir: &Path) -> Value {
    let out = pipe()
        .current_dir(dir)
        .args(["run", "p.pipe", "--format", "json"])
        .output()
        .expect("pipe runs");
    assert!(
        out.status.success(),
        "pipe run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON summary")
}

fn node<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node `{name}` in {summary}"))
}

#[test]
fn trains_on_a_folder_and_caches_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path());
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).expect("write pipeline");

    let first = run(dir.path());
    let data = node(&first, "data");
    assert_eq!(data["metrics"]["samples"], 48.0, "{data}");
    assert_eq!(data["metrics"]["classes"], 2.0, "{data}");
    let acc = node(&first, "acc")["metrics"]["accuracy"]
        .as_f64()
        .expect("accuracy metric");
    assert!(
        acc >= 0.9,
        "the halves separate the classes: accuracy {acc}"
    );

    let second = run(dir.path());
    assert_eq!(node(&second, "data")["status"], "cached", "{second}");

    let img = RgbImage::from_pixel(16, 12, Rgb([90, 90, 90]));
    img.save(dir.path().join("photos/bright/1.png"))
        .expect("overwrite one image");
    let third = run(dir.path());
    assert_eq!(node(&third, "data")["status"], "ran", "{third}");
}

#[test]
fn an_undecodable_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path());
    std::fs::write(dir.path().join("photos/dark/broken.png"), b"not a png").expect("write");
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).expect("write pipeline");
    let out = pipe()
        .current_dir(dir.path())
        .args(["run", "p.pipe"])
        .output()
        .expect("pipe runs");
    assert!(!out.status.success(), "a broken image fails the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.png") && stderr.contains("cannot be decoded"),
        "{stderr}"
    );
}
