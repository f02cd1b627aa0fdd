//! `dataset.image_folder` end to end: a class-per-folder tree of PNG and JPEG files
//! of mixed sizes is read, trained on and evaluated by `pipe run`; a second run is
//! cached, and replacing one image's pixels reruns the dataset (the folder's
//! content, not its names, is the key). Streamed (`stream: true`), the same
//! folder trains and evaluates to the same numbers, and a stage that needs the
//! images in memory says how to get them.

use image::{ImageFormat, Rgb, RgbImage};
use pipe_tests::run_json::{node, run_in, run_json};
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
    run_json(dir, "p.pipe", &[])
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
    let out = run_in(dir.path(), "p.pipe", &[]);
    assert!(!out.status.success(), "a broken image fails the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.png") && stderr.contains("cannot be decoded"),
        "{stderr}"
    );
}

/// The metrics of every node of a run of `PIPELINE`, with `stream: true` or not.
fn metrics_with_stream(stream: bool) -> Vec<(String, Value)> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path());
    let text = PIPELINE
        .replace(
            "channels: \"gray\")",
            &format!("channels: \"gray\", stream: {stream})"),
        )
        .replace("epochs: 30", "epochs: 3");
    std::fs::write(dir.path().join("p.pipe"), text).expect("write pipeline");
    let summary = run(dir.path());
    ["data", "parts", "net", "fit", "acc"]
        .iter()
        .map(|&n| (n.to_string(), node(&summary, n)["metrics"].clone()))
        .collect()
}

#[test]
fn streamed_from_disk_it_trains_and_evaluates_to_the_same_numbers() {
    let in_memory = metrics_with_stream(false);
    let streamed = metrics_with_stream(true);
    assert_eq!(streamed, in_memory);
    assert!(streamed[4].1["accuracy"].is_number(), "{streamed:?}");
}

#[test]
fn a_stage_that_needs_images_in_memory_says_how_to_get_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_tree(dir.path());
    let text = "\
let data = dataset.image_folder(dir: \"photos\", size: 8, stream: true)
let net = model.mlp(input: data, seed: 1)
let small = finetune.bias_only(model: net, data: data, epochs: 1)
";
    std::fs::write(dir.path().join("p.pipe"), text).expect("write");
    let out = run_in(dir.path(), "p.pipe", &[]);
    assert!(!out.status.success(), "finetune reads images in memory");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("streams its images") && stderr.contains("drop `stream: true`"),
        "{stderr}"
    );
}
