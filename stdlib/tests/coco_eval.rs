//! Cross-check of `eval.detect` against pycocotools (PyPI `pycocotools`): ground
//! truth / results file pairs made here (crowd boxes, images without boxes,
//! categories without detections or without ground truth, more than 100
//! detections in an image, tied scores) are scored by `coco_eval.py` and by
//! `eval.detect_files`; every number must agree to 1e-6. CI installs pycocotools
//! (.ci/requirements.txt); where it cannot be imported the test says so and
//! stops, unless `PIPE_REQUIRE_PYCOCOTOOLS=1` makes that a failure.

use pipe_lang::value::Value as PipeValue;
use pipe_stdlib::data::coco_json::{read_results, GroundTruthFile};
use pipe_stdlib::run::coco::{evaluate, CocoTruth};
use pipe_stdlib::stage::Outputs;
use pipe_stdlib::{Artifact, Input, Stdlib};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How one generated pair is made.
struct CaseSpec {
    seed: u64,
    images: usize,
    /// Largest number of ground-truth boxes per (image, category).
    max_boxes: usize,
    crowd: f64,
    /// False positives per image, at most.
    false_positives: usize,
    /// Scores drawn from {0.3, 0.6, 0.9} instead of a continuum.
    tied_scores: bool,
    /// Image ids that get this many extra random detections.
    crowded_image_detections: usize,
}

/// Category ids (sparse, like COCO's) and which ones get boxes/detections:
/// `7` has ground truth but no detections, `9` detections but no ground truth.
const CATEGORIES: [(u64, &str); 4] = [(1, "circle"), (3, "square"), (7, "ring"), (9, "bar")];

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn random_box(rng: &mut ChaCha8Rng) -> [f64; 4] {
    // Sizes log-uniform 3..250 px so small, medium and large ranges all occur.
    let w = (rng.gen_range(3f64.ln()..250f64.ln())).exp();
    let h = w * rng.gen_range(0.5..2.0);
    let x = rng.gen_range(0.0..(640.0 - w).max(1.0));
    let y = rng.gen_range(0.0..(480.0 - h.min(470.0)).max(1.0));
    [round2(x), round2(y), round2(w), round2(h)]
}

fn jitter(b: [f64; 4], rng: &mut ChaCha8Rng) -> [f64; 4] {
    let s = 0.15 * b[2].min(b[3]);
    [
        round2(b[0] + rng.gen_range(-s..=s)),
        round2(b[1] + rng.gen_range(-s..=s)),
        round2((b[2] + rng.gen_range(-s..=s)).max(0.5)),
        round2((b[3] + rng.gen_range(-s..=s)).max(0.5)),
    ]
}

fn score(spec: &CaseSpec, rng: &mut ChaCha8Rng) -> f64 {
    if spec.tied_scores {
        [0.3, 0.6, 0.9][rng.gen_range(0..3)]
    } else {
        (rng.gen_range(0.0..1.0f64) * 1000.0).round() / 1000.0
    }
}

/// A ground-truth file and a results file for one spec.
fn make_case(spec: &CaseSpec) -> (Value, Value) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut images = Vec::new();
    let mut annotations = Vec::new();
    let mut results = Vec::new();
    for i in 0..spec.images {
        let image_id = 10 * i as u64 + 3;
        images.push(
            json!({"id": image_id, "width": 640, "height": 480, "file_name": format!("{i}.png")}),
        );
        // Every fourth image has no ground truth at all.
        let empty = i % 4 == 1;
        for &(cat, _) in &CATEGORIES[..3] {
            let n = if empty {
                0
            } else {
                rng.gen_range(0..=spec.max_boxes)
            };
            for _ in 0..n {
                let b = random_box(&mut rng);
                let crowd = rng.gen_bool(spec.crowd);
                // A segmentation area below the box area, as in real COCO.
                let area = round2(b[2] * b[3] * rng.gen_range(0.6..1.0));
                annotations.push(json!({"id": annotations.len() + 1, "image_id": image_id,
                    "category_id": cat, "bbox": b, "area": area, "iscrowd": u8::from(crowd)}));
                if cat != 7 && rng.gen_bool(0.8) {
                    let dets = if crowd { rng.gen_range(1..=3) } else { 1 };
                    for _ in 0..dets {
                        results.push(json!({"image_id": image_id, "category_id": cat,
                            "bbox": jitter(b, &mut rng), "score": score(spec, &mut rng)}));
                    }
                }
            }
        }
        let extra = rng.gen_range(0..=spec.false_positives)
            + if i == 2 {
                spec.crowded_image_detections
            } else {
                0
            };
        for _ in 0..extra {
            let cat = [1, 3, 9][rng.gen_range(0..3)];
            results.push(json!({"image_id": image_id, "category_id": cat,
                "bbox": random_box(&mut rng), "score": score(spec, &mut rng)}));
        }
    }
    let categories: Vec<Value> = CATEGORIES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    (
        json!({"images": images, "annotations": annotations, "categories": categories}),
        Value::Array(results),
    )
}

fn specs() -> Vec<CaseSpec> {
    let base = CaseSpec {
        seed: 1,
        images: 30,
        max_boxes: 3,
        crowd: 0.1,
        false_positives: 4,
        tied_scores: false,
        crowded_image_detections: 0,
    };
    vec![
        CaseSpec { ..base },
        CaseSpec {
            seed: 2,
            crowd: 0.4,
            max_boxes: 5,
            crowded_image_detections: 150,
            ..base
        },
        CaseSpec {
            seed: 3,
            images: 12,
            tied_scores: true,
            ..base
        },
        CaseSpec {
            seed: 4,
            images: 6,
            max_boxes: 40,
            false_positives: 60,
            crowded_image_detections: 120,
            ..base
        },
        CaseSpec {
            seed: 5,
            images: 8,
            max_boxes: 1,
            crowd: 0.0,
            false_positives: 0,
            ..base
        },
    ]
}

fn write_cases(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    specs()
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let (gt, dt) = make_case(spec);
            let gt_path = dir.join(format!("truth{i}.json"));
            let dt_path = dir.join(format!("detections{i}.json"));
            std::fs::write(&gt_path, gt.to_string()).expect("write truth");
            std::fs::write(&dt_path, dt.to_string()).expect("write detections");
            (gt_path, dt_path)
        })
        .collect()
}

/// pycocotools' stats and per-class AP per case; `None` when not installed.
fn pycocotools(cases: &[(PathBuf, PathBuf)]) -> Option<Vec<(Vec<f64>, Vec<f64>)>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/coco_eval.py");
    let python = std::env::var("PIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let request = json!({"cases": cases.iter().map(|(t, d)| json!({"truth": t, "detections": d})).collect::<Vec<_>>()});
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("send request");
    let out = child.wait_with_output().expect("python finished");
    if out.status.code() == Some(3) {
        return None;
    }
    assert!(
        out.status.success(),
        "coco_eval.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json from coco_eval.py");
    let nums = |x: &Value| -> Vec<f64> {
        x.as_array()
            .expect("list")
            .iter()
            .map(|n| n.as_f64().expect("number"))
            .collect()
    };
    Some(
        v["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .map(|c| (nums(&c["stats"]), nums(&c["per_class"])))
            .collect(),
    )
}

/// A directory of one test's own (tests run in parallel).
fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pipe-coco-eval-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn eval_detect_equals_pycocotools_on_every_metric() {
    let dir = scratch("pycocotools");
    let cases = write_cases(&dir);
    let Some(reference) = pycocotools(&cases) else {
        let required = std::env::var("PIPE_REQUIRE_PYCOCOTOOLS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "PIPE_REQUIRE_PYCOCOTOOLS=1 but pycocotools cannot be imported"
        );
        eprintln!("pycocotools not installed: cross-check skipped (pip install pycocotools)");
        return;
    };
    for (i, ((gt, dt), (stats, per_class))) in cases.iter().zip(&reference).enumerate() {
        let truth = GroundTruthFile::read(gt).expect("truth").truth();
        let (detections, _) = read_results(dt, &truth).expect("results");
        let ours = evaluate(&truth, &detections);
        for ((name, v), want) in ours.stats().iter().zip(stats) {
            assert!(
                (v - want).abs() <= 1e-6,
                "case {i} {name}: ours {v}, pycocotools {want}"
            );
        }
        for ((name, v), want) in ours.per_class.iter().zip(per_class) {
            assert!(
                (v - want).abs() <= 1e-6,
                "case {i} AP {name}: ours {v}, pycocotools {want}"
            );
        }
        // The cases must exercise what they claim: some AP strictly inside (0, 1).
        assert!(
            stats[0] > 0.0 && stats[0] < 1.0,
            "case {i} is degenerate: {stats:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_detect_files_stage_reports_the_coco_numbers() {
    let dir = scratch("stage");
    let (gt, dt) = make_case(&specs()[0]);
    std::fs::write(dir.join("gt.json"), gt.to_string()).expect("write");
    std::fs::write(dir.join("dt.json"), dt.to_string()).expect("write");
    let args = [("truth", "gt.json"), ("detections", "dt.json")]
        .into_iter()
        .map(|(k, v)| (k, Input::Value(PipeValue::Str(v.into()))))
        .collect();
    let out = Stdlib::get()
        .call("eval.detect_files", args, &dir)
        .expect("eval.detect_files");
    let truth = GroundTruthFile::read(&dir.join("gt.json"))
        .expect("truth")
        .truth();
    let (dts, _) = read_results(&dir.join("dt.json"), &truth).expect("results");
    let direct = evaluate(&truth, &dts);
    assert_eq!(out.metrics["ap"], direct.ap);
    assert_eq!(out.metrics["ap50"], direct.ap50);
    assert_eq!(out.metrics["ar100"], direct.ar100);
    assert_eq!(out.metrics["ap.circle"], direct.per_class[0].1);
    assert!(
        !out.metrics.contains_key("ap.bar"),
        "no ground truth for `bar`: no AP"
    );
    assert!(matches!(out.outputs, Outputs::Single(Artifact::Metrics(_))));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs a catalog stage with its defaults and `args`.
fn call(full: &str, args: Vec<(&str, Input)>) -> pipe_stdlib::StageOutput {
    Stdlib::get()
        .call(full, args, &std::env::temp_dir())
        .unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn single(out: pipe_stdlib::StageOutput) -> Artifact {
    match out.outputs {
        Outputs::Single(a) => a,
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

#[test]
fn eval_detect_scores_the_hidden_frames_of_a_video_set() {
    let int = |v: i64| Input::Value(PipeValue::Int(v));
    let data = single(call(
        "dataset.moving_shapes",
        vec![
            ("videos", int(1)),
            ("frames", int(5)),
            ("size", int(32)),
            ("labeled_every", int(4)),
        ],
    ));
    let backbone = single(call(
        "model.cnn",
        vec![
            ("input", Input::Artifact(data.clone())),
            (
                "channels",
                Input::Value(PipeValue::List(vec![PipeValue::Int(8)])),
            ),
        ],
    ));
    let det = single(call(
        "model.detector",
        vec![
            ("input", Input::Artifact(data.clone())),
            ("backbone", Input::Artifact(backbone)),
            ("head_dim", int(8)),
        ],
    ));
    let out = call(
        "eval.detect",
        vec![
            ("model", Input::Artifact(det.clone())),
            ("data", Input::Artifact(data.clone())),
        ],
    );
    let (Artifact::Dataset(d), Artifact::Model(m)) = (&data, &det) else {
        panic!("dataset and model")
    };
    let set = d.videos().expect("videos");
    // Frames 0 and 4 are labelled; 1, 2, 3 were hidden from training.
    let hidden = [1, 2, 3];
    let detections = pipe_stdlib::run::detector::predict(m, set, &hidden).expect("predict");
    let want = pipe_stdlib::run::coco::coco_ap(&CocoTruth::from_videos(set, &hidden), &detections);
    assert_eq!(out.metrics["frames"], 3.0);
    assert_eq!(out.metrics["detections"], detections.len() as f64);
    assert_eq!(
        (out.metrics["ap"], out.metrics["ap50"], out.metrics["ar100"]),
        (want.ap, want.ap50, want.ar100)
    );
}

#[test]
fn bad_truth_and_results_files_are_named_with_the_entry() {
    let dir = scratch("bad");
    let (gt, _) = make_case(&specs()[4]);
    let gt_path = dir.join("gt.json");
    std::fs::write(&gt_path, gt.to_string()).expect("write");
    let truth = GroundTruthFile::read(&gt_path).expect("truth").truth();
    let dt_path = dir.join("dt.json");
    let unknown_image =
        json!([{"image_id": 4, "category_id": 1, "bbox": [0, 0, 2, 2], "score": 0.5}]);
    std::fs::write(&dt_path, unknown_image.to_string()).expect("write");
    let err = read_results(&dt_path, &truth)
        .expect_err("unknown image")
        .to_string();
    assert!(
        err.contains("dt.json") && err.contains("results[0]") && err.contains("image_id 4"),
        "{err}"
    );
    let negative = json!([{"image_id": 3, "category_id": 1, "bbox": [0, 0, -2, 2], "score": 0.5}]);
    std::fs::write(&dt_path, negative.to_string()).expect("write");
    let err = read_results(&dt_path, &truth)
        .expect_err("negative width")
        .to_string();
    assert!(
        err.contains("results[0]") && err.contains("w, h >= 0"),
        "{err}"
    );
    let mut no_categories = gt.clone();
    no_categories
        .as_object_mut()
        .expect("object")
        .remove("categories");
    std::fs::write(&gt_path, no_categories.to_string()).expect("write");
    let err = GroundTruthFile::read(&gt_path)
        .expect_err("no categories")
        .to_string();
    assert!(
        err.contains("gt.json") && err.contains("`categories`"),
        "{err}"
    );
    let mut repeated = gt;
    repeated["images"][1]["id"] = repeated["images"][0]["id"].clone();
    std::fs::write(&gt_path, repeated.to_string()).expect("write");
    let err = GroundTruthFile::read(&gt_path)
        .expect_err("repeated id")
        .to_string();
    assert!(
        err.contains("images[1]") && err.contains("appears twice"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
