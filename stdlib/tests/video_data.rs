//! `dataset.coco_vid` on small COCO-VID folders written here (PNG and JPEG
//! frames): frames, boxes, classes and labelled frames come out as the file
//! says, and every bad input (bad JSON, a missing image, a box outside its
//! image, a missing COCO-VID field) is an error naming the file and the entry.
//! Also `dataset.moving_shapes` through the catalog, and persistence of both.

use pipe_lang::value::Value as PipeValue;
use pipe_stdlib::dataset::Dataset;
use pipe_stdlib::stage::Outputs;
use pipe_stdlib::{Artifact, Input, StageError, StageOutput, Stdlib};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("pipe-video-data-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("frames")).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(stage: &str, dir: &Path, args: Vec<(&str, PipeValue)>) -> Result<StageOutput, StageError> {
    let args = args
        .into_iter()
        .map(|(k, v)| (k, Input::Value(v)))
        .collect();
    Stdlib::get().call(&format!("dataset.{stage}"), args, dir)
}

fn dataset(out: &StageOutput) -> &Dataset {
    match &out.outputs {
        Outputs::Single(Artifact::Dataset(d)) => d,
        other => panic!("expected a dataset, got {other:?}"),
    }
}

/// An 8×6 frame whose red channel encodes `seed`, saved as PNG or JPEG.
fn write_frame(dir: &Path, name: &str, seed: u8) {
    let img = image::RgbImage::from_fn(8, 6, |x, y| {
        image::Rgb([seed, (x * 30) as u8, (y * 40) as u8])
    });
    img.save(dir.join("frames").join(name)).expect("save frame");
}

/// Two videos (ids 5 and 2), three frames listed out of order, one JPEG.
fn good_layout(dir: &Path) -> Value {
    write_frame(dir, "a0.png", 10);
    write_frame(dir, "a1.png", 20);
    write_frame(dir, "b0.jpg", 200);
    json!({
        "videos": [{"id": 5, "name": "a"}, {"id": 2, "name": "b"}],
        "images": [
            {"id": 11, "file_name": "a1.png", "video_id": 5, "frame_id": 1, "width": 8, "height": 6},
            {"id": 10, "file_name": "a0.png", "video_id": 5, "frame_id": 0, "width": 8, "height": 6},
            {"id": 20, "file_name": "b0.jpg", "video_id": 2, "frame_id": 0, "width": 8, "height": 6}
        ],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 9, "bbox": [1, 1, 3, 2], "area": 6, "iscrowd": 0},
            {"id": 2, "image_id": 11, "category_id": 4, "bbox": [2, 1, 6, 5], "area": 30, "iscrowd": 1},
            {"id": 3, "image_id": 20, "category_id": 9, "bbox": [0, 0, 8, 6], "area": 48, "iscrowd": 0}
        ],
        "categories": [{"id": 9, "name": "car"}, {"id": 4, "name": "dog"}]
    })
}

fn coco_vid(dir: &Path, layout: &Value, labeled_every: i64) -> Result<StageOutput, StageError> {
    std::fs::write(dir.join("ann.json"), layout.to_string()).expect("write json");
    run(
        "coco_vid",
        dir,
        vec![
            ("annotations", PipeValue::Str("ann.json".into())),
            ("images", PipeValue::Str("frames".into())),
            ("labeled_every", PipeValue::Int(labeled_every)),
        ],
    )
}

#[test]
fn coco_vid_reads_frames_boxes_and_classes_in_video_order() {
    let dir = Scratch::new("good");
    let out = coco_vid(&dir.0, &good_layout(&dir.0), 2).expect("coco_vid");
    let set = dataset(&out).videos().expect("videos");
    assert_eq!(
        (set.len(), set.videos(), set.channels, set.height, set.width),
        (3, 2, 3, 6, 8)
    );
    assert_eq!(
        set.class_names,
        vec!["dog", "car"],
        "categories sorted by id"
    );
    // Video 2 first (b0), then video 5 in frame order (a0, a1).
    let red: Vec<f32> = (0..3).map(|i| set.frame(i)[0]).collect();
    assert!(
        (red[0] - 200.0 / 255.0).abs() < 0.05,
        "JPEG frame first: {red:?}"
    );
    assert_eq!((red[1], red[2]), (10.0 / 255.0, 20.0 / 255.0));
    let info: Vec<(usize, usize, bool)> = set
        .frames
        .iter()
        .map(|f| (f.video, f.index, f.labeled))
        .collect();
    assert_eq!(info, vec![(0, 0, true), (1, 0, true), (1, 1, false)]);
    let b = &set.frames[2].boxes[0];
    assert_eq!(
        (b.x, b.y, b.w, b.h, b.class, b.crowd),
        (2.0, 1.0, 6.0, 5.0, 0, true)
    );
    assert_eq!(set.frames[1].boxes[0].class, 1);
    assert_eq!(out.metrics["boxes"], 3.0);
    let back = Dataset::from_files(&dataset(&out).to_files().expect("save")).expect("load");
    assert_eq!(&back, dataset(&out));
}

fn error_of(dir: &Path, layout: &Value) -> String {
    coco_vid(dir, layout, 1).expect_err("must fail").to_string()
}

#[test]
fn bad_json_names_the_file() {
    let dir = Scratch::new("badjson");
    std::fs::write(dir.0.join("ann.json"), "{\"videos\": [").expect("write");
    let err = run(
        "coco_vid",
        &dir.0,
        vec![
            ("annotations", PipeValue::Str("ann.json".into())),
            ("images", PipeValue::Str("frames".into())),
            ("labeled_every", PipeValue::Int(1)),
        ],
    )
    .expect_err("bad json")
    .to_string();
    assert!(
        err.contains("ann.json") && err.contains("not valid JSON"),
        "{err}"
    );
}

#[test]
fn missing_image_names_the_file_and_the_entry() {
    let dir = Scratch::new("missing");
    let mut layout = good_layout(&dir.0);
    layout["images"][2]["file_name"] = json!("gone.png");
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("gone.png") && err.contains("images[2] (id 20)") && err.contains("not found"),
        "{err}"
    );
}

#[test]
fn box_outside_its_image_names_the_annotation() {
    let dir = Scratch::new("outside");
    let mut layout = good_layout(&dir.0);
    layout["annotations"][1]["bbox"] = json!([4, 1, 6, 5]);
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("ann.json")
            && err.contains("annotations[1] (id 2)")
            && err.contains("outside"),
        "{err}"
    );
}

#[test]
fn entries_without_coco_vid_fields_are_named() {
    let dir = Scratch::new("fields");
    let mut layout = good_layout(&dir.0);
    layout["images"][0]
        .as_object_mut()
        .expect("object")
        .remove("frame_id");
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("images[0] (id 11)") && err.contains("frame_id"),
        "{err}"
    );
    let mut layout = good_layout(&dir.0);
    layout["annotations"][0]["bbox"] = json!("wide");
    let err = error_of(&dir.0, &layout);
    assert!(err.contains("annotations[0] (id 1)"), "{err}");
    let mut layout = good_layout(&dir.0);
    layout["annotations"][0]["category_id"] = json!(77);
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("annotations[0] (id 1)") && err.contains("category_id 77"),
        "{err}"
    );
}

#[test]
fn undecodable_and_mismatched_frames_are_refused() {
    let dir = Scratch::new("decode");
    let layout = good_layout(&dir.0);
    std::fs::write(dir.0.join("frames/a1.png"), b"not a png").expect("write");
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("a1.png") && err.contains("cannot be decoded"),
        "{err}"
    );
    let mut layout = good_layout(&dir.0);
    layout["images"][1]["width"] = json!(9);
    let err = error_of(&dir.0, &layout);
    assert!(
        err.contains("images[1] (id 10)") && err.contains("9×6"),
        "{err}"
    );
}

#[test]
fn moving_shapes_stage_round_trips_with_its_motion() {
    let dir = Scratch::new("shapes");
    let args = vec![
        ("videos", PipeValue::Int(2)),
        ("frames", PipeValue::Int(6)),
        ("size", PipeValue::Int(24)),
        ("objects", PipeValue::Int(2)),
        ("classes", PipeValue::Int(3)),
        ("labeled_every", PipeValue::Int(3)),
        ("seed", PipeValue::Int(4)),
        ("max_speed", PipeValue::Float(1.5)),
        ("noise", PipeValue::Float(0.02)),
    ];
    let out = run("moving_shapes", &dir.0, args).expect("moving_shapes");
    assert_eq!(
        (out.metrics["frames"], out.metrics["labeled_frames"]),
        (12.0, 4.0)
    );
    let d = dataset(&out);
    let back = Dataset::from_files(&d.to_files().expect("save")).expect("load");
    assert_eq!(&back, d);
    assert!(back.videos().expect("videos").motion.is_some());
    assert!(d.images().is_err(), "a video set is not an image set");
}
