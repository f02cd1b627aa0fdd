//! Audio-visual event segments (AVE-CLIP): the `AvSegments` payload (per
//! segment audio and visual feature vectors with an event class or background)
//! with its files, and `dataset.av_events`, the procedural generator. Never
//! reads HDF5 (that is `ave_h5.rs`) and never trains anything.
//!
//! The generator (project's own design, not from the paper): each video has one
//! event class, audible and visible over a random interval that starts and stops
//! mid-video; each modality's feature is its class prototype (or a background
//! prototype) plus a scene vector shared by both modalities at that second,
//! plus Gaussian noise. Distractors put a sound of another class over
//! background video, or a visible object of another class without its sound;
//! those segments are background (AVE labels an event only when it is both
//! heard and seen), so the model must check that the two modalities agree.

use crate::artifact::{f32_bytes, f32_from_bytes, file, json_bytes, json_file, Files};
use crate::dataset::{Dataset, DatasetData};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::Artifact;
use pipe_lang::types::Task;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Videos of `segments` segments; labels are `0..classes` for events and
/// `classes` for background (AVE's 29th output).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvSegments {
    pub segments: usize,
    pub audio_dim: usize,
    pub visual_dim: usize,
    /// Event class names followed by `background`.
    pub class_names: Vec<String>,
    /// `[videos, segments, audio_dim]`.
    #[serde(skip)]
    pub audio: Vec<f32>,
    /// `[videos, segments, visual_dim]`.
    #[serde(skip)]
    pub visual: Vec<f32>,
    /// `[videos, segments]`.
    pub labels: Vec<u32>,
}

impl AvSegments {
    pub fn videos(&self) -> usize {
        self.labels.len() / self.segments.max(1)
    }

    /// Outputs per segment: the event classes plus background.
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// The background label (the last output).
    pub fn background(&self) -> u32 {
        self.classes().saturating_sub(1) as u32
    }

    /// Audio then visual features of each segment, `[videos, segments,
    /// audio_dim + visual_dim]`: the layout the temporal model reads.
    pub fn joint(&self, videos: &[usize]) -> Vec<f32> {
        let (t, da, dv) = (self.segments, self.audio_dim, self.visual_dim);
        let mut out = Vec::with_capacity(videos.len() * t * (da + dv));
        for &v in videos {
            for s in 0..t {
                let i = v * t + s;
                out.extend_from_slice(&self.audio[i * da..(i + 1) * da]);
                out.extend_from_slice(&self.visual[i * dv..(i + 1) * dv]);
            }
        }
        out
    }

    /// The labels of `videos`, segment by segment.
    pub fn labels_of(&self, videos: &[usize]) -> Vec<u32> {
        let t = self.segments;
        videos
            .iter()
            .flat_map(|&v| self.labels[v * t..(v + 1) * t].iter().copied())
            .collect()
    }

    /// The videos at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> AvSegments {
        let (t, da, dv) = (self.segments, self.audio_dim, self.visual_dim);
        let pick = |data: &[f32], d: usize| -> Vec<f32> {
            indices
                .iter()
                .flat_map(|&v| data[v * t * d..(v + 1) * t * d].iter().copied())
                .collect()
        };
        AvSegments {
            audio: pick(&self.audio, da),
            visual: pick(&self.visual, dv),
            labels: self.labels_of(indices),
            class_names: self.class_names.clone(),
            ..*self
        }
    }

    pub(crate) fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("av.json".to_string(), json_bytes(self)?),
            ("audio.f32".to_string(), f32_bytes(&self.audio)),
            ("visual.f32".to_string(), f32_bytes(&self.visual)),
        ]))
    }

    pub(crate) fn from_files(files: &Files) -> Result<Self, StageError> {
        let mut set: AvSegments = json_file(files, "av.json")?;
        set.audio = f32_from_bytes(file(files, "audio.f32")?, "audio.f32")?;
        set.visual = f32_from_bytes(file(files, "visual.f32")?, "visual.f32")?;
        let cells = set.labels.len();
        if set.segments == 0 || !cells.is_multiple_of(set.segments) {
            return Err(StageError::Corrupt(
                "`av.json` labels do not fill whole videos".into(),
            ));
        }
        if set.audio.len() != cells * set.audio_dim || set.visual.len() != cells * set.visual_dim {
            return Err(StageError::Corrupt(
                "`audio.f32` or `visual.f32` has the wrong length".into(),
            ));
        }
        Ok(set)
    }
}

/// An audio-visual event dataset artifact with its headline numbers.
pub(crate) fn av_output(name: &str, set: AvSegments) -> StageOutput {
    let event = set
        .labels
        .iter()
        .filter(|&&l| l != set.background())
        .count();
    let metrics = BTreeMap::from([
        ("videos".to_string(), set.videos() as f64),
        ("segments".to_string(), set.labels.len() as f64),
        ("classes".to_string(), set.classes() as f64),
        (
            "event_fraction".to_string(),
            event as f64 / set.labels.len().max(1) as f64,
        ),
    ]);
    let dataset = Dataset {
        name: name.to_string(),
        task: Task::AvEvent,
        data: DatasetData::AvSegments(set),
    };
    StageOutput::single(Artifact::Dataset(Arc::new(dataset))).with_metrics(&metrics)
}

/// `dataset.split` of audio-visual videos: a seeded shuffle of whole videos,
/// `test` of them (rounded) in the test part.
pub(crate) fn split(
    data: &Dataset,
    set: &AvSegments,
    test: f64,
    rng: &mut ChaCha8Rng,
) -> Result<StageOutput, StageError> {
    let mut order: Vec<usize> = (0..set.videos()).collect();
    order.shuffle(rng);
    let take = ((order.len() as f64 * test).round() as usize).min(order.len());
    let train = order.split_off(take);
    if order.is_empty() || train.is_empty() {
        return Err(StageError::Invalid(format!(
            "`test: {test}` leaves a part of the {} videos empty; choose a fraction that gives both parts videos",
            set.videos()
        )));
    }
    let part = |name: &str, idx: &[usize]| Dataset {
        name: format!("{}/split.{name}", data.name),
        task: data.task,
        data: DatasetData::AvSegments(set.select(idx)),
    };
    let metrics = BTreeMap::from([
        ("train_samples".to_string(), train.len() as f64),
        ("test_samples".to_string(), order.len() as f64),
        ("classes".to_string(), set.classes() as f64),
    ]);
    Ok(StageOutput::record([
        ("train", Artifact::Dataset(Arc::new(part("train", &train)))),
        ("test", Artifact::Dataset(Arc::new(part("test", &order)))),
    ])
    .with_metrics(&metrics))
}

/// The generator's parameters.
#[derive(Debug, Clone)]
pub struct AvSpec {
    pub videos: usize,
    pub segments: usize,
    pub classes: usize,
    pub audio_dim: usize,
    pub visual_dim: usize,
    pub distractors: f32,
    pub noise: f32,
    pub seed: u64,
}

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let spec = AvSpec {
        videos: input.usize("videos")?,
        segments: input.usize("segments")?,
        classes: input.usize("classes")?,
        audio_dim: input.usize("audio_dim")?,
        visual_dim: input.usize("visual_dim")?,
        distractors: input.f64("distractors")? as f32,
        noise: input.f64("noise")? as f32,
        seed: input.u64("seed")?,
    };
    ctx.check_cancelled()?;
    Ok(av_output("av_events", generate(&spec)?))
}

/// A standard normal draw (Box-Muller).
fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn gauss_vec(rng: &mut ChaCha8Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n).map(|_| std * gauss(rng)).collect()
}

/// What one modality shows at one segment.
#[derive(Clone, Copy, PartialEq)]
enum Shows {
    Background,
    Class(usize),
}

/// Fixed random vectors both modalities draw from: class and background
/// prototypes, and the projections of the shared scene into each modality.
struct Prototypes {
    audio: Vec<Vec<f32>>,
    visual: Vec<Vec<f32>>,
    audio_bg: Vec<f32>,
    visual_bg: Vec<f32>,
    /// `[SCENE, audio_dim]` and `[SCENE, visual_dim]`.
    audio_scene: Vec<f32>,
    visual_scene: Vec<f32>,
}

/// Size of the scene vector shared by a segment's audio and visual features.
const SCENE: usize = 16;

impl Prototypes {
    fn new(spec: &AvSpec, rng: &mut ChaCha8Rng) -> Prototypes {
        let (da, dv, k) = (spec.audio_dim, spec.visual_dim, spec.classes);
        // Unit-variance prototypes over the whole vector, so class evidence per
        // segment is comparable to `noise` whatever the feature size.
        let (sa, sv) = (1.0 / (da as f32).sqrt(), 1.0 / (dv as f32).sqrt());
        Prototypes {
            audio: (0..k).map(|_| gauss_vec(rng, da, 3.0 * sa)).collect(),
            visual: (0..k).map(|_| gauss_vec(rng, dv, 3.0 * sv)).collect(),
            audio_bg: gauss_vec(rng, da, 3.0 * sa),
            visual_bg: gauss_vec(rng, dv, 3.0 * sv),
            audio_scene: gauss_vec(rng, SCENE * da, 2.0 * sa),
            visual_scene: gauss_vec(rng, SCENE * dv, 2.0 * sv),
        }
    }
}

pub fn generate(spec: &AvSpec) -> Result<AvSegments, StageError> {
    if spec.classes < 2 {
        return Err(StageError::Invalid(format!(
            "`classes` must be at least 2, got {}",
            spec.classes
        )));
    }
    if spec.segments < 3 {
        return Err(StageError::Invalid(format!(
            "`segments` must be at least 3 so events can start and stop mid-video, got {}",
            spec.segments
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let protos = Prototypes::new(spec, &mut rng);
    let mut set = AvSegments {
        segments: spec.segments,
        audio_dim: spec.audio_dim,
        visual_dim: spec.visual_dim,
        class_names: (0..spec.classes)
            .map(|c| format!("event{c}"))
            .chain(["background".to_string()])
            .collect(),
        audio: Vec::with_capacity(spec.videos * spec.segments * spec.audio_dim),
        visual: Vec::with_capacity(spec.videos * spec.segments * spec.visual_dim),
        labels: Vec::with_capacity(spec.videos * spec.segments),
    };
    for v in 0..spec.videos {
        let class = v % spec.classes;
        let (audio, visual) = timeline(spec, class, &mut rng);
        for s in 0..spec.segments {
            let label = match (audio[s], visual[s]) {
                (Shows::Class(a), Shows::Class(b)) if a == b => a as u32,
                _ => spec.classes as u32,
            };
            set.labels.push(label);
            let scene = gauss_vec(&mut rng, SCENE, 1.0);
            emit(
                &mut set.audio,
                audio[s],
                &protos.audio,
                &protos.audio_bg,
                &protos.audio_scene,
                &scene,
                spec.noise,
                &mut rng,
            );
            emit(
                &mut set.visual,
                visual[s],
                &protos.visual,
                &protos.visual_bg,
                &protos.visual_scene,
                &scene,
                spec.noise,
                &mut rng,
            );
        }
    }
    Ok(set)
}

/// What each modality shows per segment: the event over a random interval that
/// starts and stops mid-video, and possibly one distractor interval outside it
/// where only one modality shows another class.
fn timeline(spec: &AvSpec, class: usize, rng: &mut ChaCha8Rng) -> (Vec<Shows>, Vec<Shows>) {
    let t = spec.segments;
    let len = rng.gen_range(2..=t.saturating_sub(1).max(2));
    let start = rng.gen_range(0..=t - len);
    let mut audio = vec![Shows::Background; t];
    let mut visual = vec![Shows::Background; t];
    for s in start..start + len {
        audio[s] = Shows::Class(class);
        visual[s] = Shows::Class(class);
    }
    if rng.gen::<f32>() < spec.distractors {
        // Outside the event, so a video's labels stay one event interval
        // (as in AVE): a distractor is background that looks half like an event.
        let other = (class + rng.gen_range(1..spec.classes)) % spec.classes;
        let outside: Vec<usize> = (0..t)
            .filter(|s| !(start..start + len).contains(s))
            .collect();
        let at = outside[rng.gen_range(0..outside.len())];
        let span = if at + 1 < t && !(start..start + len).contains(&(at + 1)) && rng.gen_bool(0.5) {
            2
        } else {
            1
        };
        let sound_only = rng.gen_bool(0.5);
        for s in at..at + span {
            if sound_only {
                audio[s] = Shows::Class(other);
            } else {
                visual[s] = Shows::Class(other);
            }
        }
    }
    (audio, visual)
}

/// Appends one segment's feature: prototype + projected scene + noise.
#[allow(clippy::too_many_arguments)]
fn emit(
    out: &mut Vec<f32>,
    shows: Shows,
    protos: &[Vec<f32>],
    background: &[f32],
    projection: &[f32],
    scene: &[f32],
    noise: f32,
    rng: &mut ChaCha8Rng,
) {
    let base = match shows {
        Shows::Class(c) => &protos[c],
        Shows::Background => background,
    };
    let d = base.len();
    let std = noise / (d as f32).sqrt();
    for (j, &b) in base.iter().enumerate() {
        let s: f32 = scene
            .iter()
            .enumerate()
            .map(|(k, z)| z * projection[k * d + j])
            .sum();
        out.push(b + s / (SCENE as f32).sqrt() + std * gauss(rng));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> AvSpec {
        AvSpec {
            videos: 40,
            segments: 10,
            classes: 4,
            audio_dim: 12,
            visual_dim: 20,
            distractors: 0.5,
            noise: 0.5,
            seed,
        }
    }

    #[test]
    fn deterministic_with_events_inside_videos_and_round_trips() {
        let a = generate(&spec(3)).unwrap();
        assert_eq!(a, generate(&spec(3)).unwrap());
        assert_ne!(a.audio, generate(&spec(4)).unwrap().audio);
        assert_eq!(
            (a.videos(), a.classes(), a.audio.len()),
            (40, 5, 40 * 10 * 12)
        );
        for video in a.labels.chunks(10) {
            let events: Vec<usize> = (0..10).filter(|&s| video[s] != 4).collect();
            assert!(!events.is_empty(), "{video:?}");
            // Some video has background on both sides of its event somewhere below.
            assert!(events.iter().all(|&s| video[s] == video[events[0]]));
        }
        let mid = a
            .labels
            .chunks(10)
            .filter(|v| v[0] == 4 && v[9] == 4)
            .count();
        assert!(mid > 0, "no event starts and stops mid-video");
        let back = AvSegments::from_files(&a.to_files().unwrap()).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn selection_keeps_whole_videos() {
        let a = generate(&spec(1)).unwrap();
        let b = a.select(&[3, 0]);
        assert_eq!(b.labels[..10], a.labels[30..40]);
        assert_eq!(b.visual[20 * 10..], a.visual[..20 * 10]);
        assert_eq!(a.joint(&[2]).len(), 10 * 32);
    }

    #[test]
    fn bad_parameters_and_files_are_reported() {
        let mut s = spec(0);
        s.classes = 1;
        assert!(generate(&s).unwrap_err().to_string().contains("classes"));
        let a = generate(&spec(0)).unwrap();
        let mut files = a.to_files().unwrap();
        files.insert("audio.f32".into(), vec![0; 8]);
        let err = AvSegments::from_files(&files).unwrap_err().to_string();
        assert!(err.contains("wrong length"), "{err}");
    }
}
