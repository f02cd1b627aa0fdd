//! Audio-visual event segments (AVE-CLIP): the `AvSegments` payload (per
//! segment audio and visual feature vectors with an event class or background)
//! with its files, and `dataset.av_events`, the procedural generator. Never
//! reads HDF5 (that is `ave_h5.rs`) and never trains anything.
//!
//! The generator (project's own design, not from the paper; the paper has no
//! synthetic task). Each video has one event class, audible and visible over a
//! random interval that starts and stops mid-video. A modality's feature at one
//! second is a fixed random projection of a point in a small latent space (deep
//! features concentrate near a low-dimensional subspace, so a segment's
//! ambiguity does not shrink with the feature size), plus a little feature
//! noise. The latent point is a prototype, a scene vector shared by both
//! modalities at that second, and Gaussian noise of standard deviation `noise`
//! per latent dimension. An event prototype is a shared "something happens" direction plus a weaker
//! class direction, so one segment says more about *whether* an event happens
//! than *which*: the class is read reliably only by pooling the event's
//! segments (long windows, event-guided refinement). The parts of AVE-CLIP each
//! have something to fix:
//! - distractors put a sound of another class over background video, or a
//!   visible object of another class without its sound, for 1-3 seconds; those
//!   segments are background (AVE labels an event only when it is both heard and
//!   seen), so cross-modal agreement matters;
//! - glitches are one-second breaks of the contiguous timeline: a dropout (an
//!   event second whose features fade to a fraction of their strength, still the
//!   event) or a blip (one second of the event's class heard and seen between
//!   background seconds, too short to be an event: background). A segment alone
//!   gets them wrong; its neighbours (short windows, post-processing) vote.

use crate::artifact::{f32_bytes, f32_from_bytes, file, json_bytes, json_file, Files};
use crate::dataset::{Dataset, DatasetData};
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::task_kinds;
use crate::Artifact;
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
        task: task_kinds::AV_EVENT,
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
        name: data.derived_name(&format!("split.{name}")),
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
    pub glitches: f32,
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
        glitches: input.f64("glitches")? as f32,
        noise: input.f64("noise")? as f32,
        seed: Seed::read(input)?,
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

/// A random vector of length about `norm` (per feature `norm / sqrt(n)`).
fn gauss_vec(rng: &mut ChaCha8Rng, n: usize, norm: f32) -> Vec<f32> {
    let std = norm / (n.max(1) as f32).sqrt();
    (0..n).map(|_| std * gauss(rng)).collect()
}

/// What one modality shows at one segment.
#[derive(Clone, Copy, PartialEq)]
enum Shows {
    Background,
    /// A class at a strength (1: full, `DROPOUT`: a fading second).
    Class(usize, f32),
}

/// Length of the "something happens" direction every event prototype shares,
/// and of the background prototype (project defaults).
const EVENT_NORM: f32 = 3.0;
/// Length of each class's own direction: weaker than the event direction, so
/// which event it is needs several segments (project default).
const CLASS_NORM: f32 = 2.0;
/// Length of the scene vector's projection into each modality's latent space.
const SCENE_NORM: f32 = 2.0;
/// Size of the scene vector shared by a segment's audio and visual features.
const SCENE: usize = 16;
/// Size of each modality's latent space: features are a fixed random
/// projection of it, as deep features concentrate near a low-dimensional
/// subspace, so the ambiguity of a segment is in the latent, not in how many
/// features there are (project default).
const LATENT: usize = 16;
/// Standard deviation of the per-feature noise added after the projection
/// (keeps the features full rank; small beside the latent noise).
const FEATURE_NOISE: f32 = 0.3;
/// Strength of an event second that fades out (a dropout glitch).
const DROPOUT: f32 = 0.25;

/// One modality's fixed prototypes (in its latent space) and projections.
struct Modality {
    event: Vec<f32>,
    classes: Vec<Vec<f32>>,
    background: Vec<f32>,
    /// `[SCENE, LATENT]`: the shared scene into this latent space.
    scene: Vec<f32>,
    /// `[LATENT, dim]`: the latent space into features.
    projection: Vec<f32>,
}

impl Modality {
    fn new(dim: usize, classes: usize, rng: &mut ChaCha8Rng) -> Modality {
        let scale = SCENE_NORM / (SCENE as f32).sqrt();
        Modality {
            event: gauss_vec(rng, LATENT, EVENT_NORM),
            classes: (0..classes)
                .map(|_| gauss_vec(rng, LATENT, CLASS_NORM))
                .collect(),
            background: gauss_vec(rng, LATENT, EVENT_NORM),
            scene: (0..SCENE)
                .flat_map(|_| gauss_vec(rng, LATENT, scale))
                .collect(),
            projection: (0..LATENT)
                .flat_map(|_| gauss_vec(rng, dim, (dim as f32 / LATENT as f32).sqrt()))
                .collect(),
        }
    }

    /// Appends one segment's feature: the projection of prototype + scene +
    /// latent noise, plus a little feature noise.
    fn emit(
        &self,
        out: &mut Vec<f32>,
        shows: Shows,
        scene: &[f32],
        noise: f32,
        rng: &mut ChaCha8Rng,
    ) {
        let mut latent = [0.0f32; LATENT];
        for (k, x) in latent.iter_mut().enumerate() {
            *x = match shows {
                Shows::Class(c, strength) => strength * (self.event[k] + self.classes[c][k]),
                Shows::Background => self.background[k],
            };
            *x += scene
                .iter()
                .enumerate()
                .map(|(i, z)| z * self.scene[i * LATENT + k])
                .sum::<f32>();
            *x += noise * gauss(rng);
        }
        let d = self.projection.len() / LATENT;
        for j in 0..d {
            let f: f32 = latent
                .iter()
                .enumerate()
                .map(|(k, x)| x * self.projection[k * d + j])
                .sum();
            out.push(f + FEATURE_NOISE * gauss(rng));
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
    let audio = Modality::new(spec.audio_dim, spec.classes, &mut rng);
    let visual = Modality::new(spec.visual_dim, spec.classes, &mut rng);
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
        let line = Timeline::new(spec, v % spec.classes, &mut rng);
        for s in 0..spec.segments {
            set.labels.push(line.labels[s]);
            let scene: Vec<f32> = (0..SCENE).map(|_| gauss(&mut rng)).collect();
            audio.emit(&mut set.audio, line.audio[s], &scene, spec.noise, &mut rng);
            visual.emit(
                &mut set.visual,
                line.visual[s],
                &scene,
                spec.noise,
                &mut rng,
            );
        }
    }
    Ok(set)
}

/// What each modality shows per segment of one video, and the truth.
struct Timeline {
    audio: Vec<Shows>,
    visual: Vec<Shows>,
    labels: Vec<u32>,
}

impl Timeline {
    /// The event over a random interval that starts and stops mid-video, then
    /// possibly a distractor and a glitch outside or inside it.
    fn new(spec: &AvSpec, class: usize, rng: &mut ChaCha8Rng) -> Timeline {
        let t = spec.segments;
        let len = rng.gen_range(2..=t - 1);
        let start = rng.gen_range(0..=t - len);
        let event = start..start + len;
        let mut line = Timeline {
            audio: vec![Shows::Background; t],
            visual: vec![Shows::Background; t],
            labels: vec![spec.classes as u32; t],
        };
        for s in event.clone() {
            line.audio[s] = Shows::Class(class, 1.0);
            line.visual[s] = Shows::Class(class, 1.0);
            line.labels[s] = class as u32;
        }
        if rng.gen::<f32>() < spec.distractors {
            line.distract(spec.classes, class, rng);
        }
        if rng.gen::<f32>() < spec.glitches {
            line.glitch(class, rng);
        }
        line
    }

    fn is_background(&self, s: usize) -> bool {
        self.audio[s] == Shows::Background && self.visual[s] == Shows::Background
    }

    /// 1-3 background seconds where one modality shows another class. Outside
    /// the event, so a video's labels stay one event interval (as in AVE).
    fn distract(&mut self, classes: usize, class: usize, rng: &mut ChaCha8Rng) {
        let t = self.labels.len();
        let free: Vec<usize> = (0..t).filter(|&s| self.is_background(s)).collect();
        let Some(&at) = free.choose(rng) else {
            return;
        };
        let other = Shows::Class((class + rng.gen_range(1..classes)) % classes, 1.0);
        let span = rng.gen_range(1..=3);
        let sound_only = rng.gen_bool(0.5);
        let seconds: Vec<usize> = (at..(at + span).min(t))
            .take_while(|&s| self.is_background(s))
            .collect();
        for s in seconds {
            if sound_only {
                self.audio[s] = other;
            } else {
                self.visual[s] = other;
            }
        }
    }

    /// A dropout (an event second strictly inside the event fades) or a blip
    /// (one background second between background seconds shows the class in
    /// both modalities), whichever the video has room for.
    fn glitch(&mut self, class: usize, rng: &mut ChaCha8Rng) {
        let t = self.labels.len();
        let event = |s: usize| {
            matches!(self.audio[s], Shows::Class(c, _) if c == class)
                && self.labels[s] == class as u32
        };
        let dropouts: Vec<usize> = (1..t - 1)
            .filter(|&s| event(s - 1) && event(s) && event(s + 1))
            .collect();
        let blips: Vec<usize> = (1..t - 1)
            .filter(|&s| (s - 1..=s + 1).all(|n| self.is_background(n)))
            .collect();
        let dropout = match (dropouts.is_empty(), blips.is_empty()) {
            (true, true) => return,
            (false, false) => rng.gen_bool(0.5),
            (empty_dropouts, _) => !empty_dropouts,
        };
        if dropout {
            let s = dropouts[rng.gen_range(0..dropouts.len())];
            self.audio[s] = Shows::Class(class, DROPOUT);
            self.visual[s] = Shows::Class(class, DROPOUT);
        } else {
            let s = blips[rng.gen_range(0..blips.len())];
            self.audio[s] = Shows::Class(class, 1.0);
            self.visual[s] = Shows::Class(class, 1.0);
        }
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
            glitches: 0.5,
            noise: 0.5,
            seed,
        }
    }

    /// Every video's truth is one event interval whatever the distractors and
    /// glitches; both glitch kinds occur, each as documented.
    #[test]
    fn glitches_are_dropouts_inside_events_and_blips_labelled_background() {
        let mut s = spec(7);
        (s.distractors, s.glitches) = (1.0, 1.0);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut dropouts, mut blips, mut distractors) = (0, 0, 0);
        for v in 0..200 {
            let class = v % s.classes;
            let line = Timeline::new(&s, class, &mut rng);
            let events: Vec<usize> = (0..10).filter(|&i| line.labels[i] != 4).collect();
            assert_eq!(events.len(), events[events.len() - 1] - events[0] + 1);
            for i in 0..10 {
                match (line.audio[i], line.visual[i], line.labels[i]) {
                    (Shows::Class(a, w), Shows::Class(b, _), 4) if a == b => {
                        assert!(a == class && w == 1.0 && i > 0 && i < 9);
                        assert!(line.is_background(i - 1) && line.is_background(i + 1));
                        blips += 1;
                    }
                    (Shows::Class(_, w), _, l) if l != 4 && w == DROPOUT => {
                        assert!(line.labels[i - 1] == l && line.labels[i + 1] == l);
                        dropouts += 1;
                    }
                    (a, b, 4) if a != b => distractors += 1,
                    _ => {}
                }
            }
        }
        assert!(
            dropouts > 20 && blips > 20 && distractors > 100,
            "{dropouts} {blips} {distractors}"
        );
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
