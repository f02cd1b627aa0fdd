//! `dataset.moving_shapes(videos, frames, size, objects, classes, labeled_every,
//! seed, max_speed, noise)`: procedural grayscale videos for semi-supervised video
//! detection. Each video has a static textured background and 1..=`objects`
//! striped shapes (one `dataset.shapes` kind per class) moving in straight lines
//! at constant velocity, drawn in depth order so later objects occlude earlier
//! ones; objects start or end outside the frame, so they enter and leave. Each
//! frame carries the boxes of its visible objects, and the true per-pixel motion
//! (the velocity of the topmost object at the pixel centre, zero on background).
//! Frame `t` of a video is labelled for training iff `t % labeled_every == 0`.
//! Deterministic for a seed (each video has its own random stream). Never reads
//! files.

use super::shapes::{gaussian, inside, KINDS};
use super::video::{BoxLabel, FrameInfo, VideoSet};
use crate::artifact::Artifact;
use crate::dataset::{Dataset, DatasetData};
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::task_kinds;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::f32::consts::TAU;
use std::sync::Arc;

/// Subsamples per pixel side (anti-aliasing, so sub-pixel motion shows).
const SUPER: usize = 2;
/// A box is ground truth only while at least this fraction of the object's
/// pixels is visible (inside the frame and not occluded). Project default: below
/// it the object is mostly hidden and its extent cannot be seen.
const MIN_VISIBLE: f32 = 0.25;
/// Smallest visible box side in pixels that counts as an object.
const MIN_SIDE: f32 = 2.0;

#[derive(Debug, Clone)]
pub struct Spec {
    pub videos: usize,
    pub frames: usize,
    pub size: usize,
    pub objects: usize,
    pub classes: usize,
    pub labeled_every: usize,
    pub seed: u64,
    pub max_speed: f32,
    pub noise: f32,
}

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let spec = Spec {
        videos: input.usize("videos")?,
        frames: input.usize("frames")?,
        size: input.usize("size")?,
        objects: input.usize("objects")?,
        classes: input.usize("classes")?,
        labeled_every: input.usize("labeled_every")?,
        seed: Seed::read(input)?,
        max_speed: input.f64("max_speed")? as f32,
        noise: input.f64("noise")? as f32,
    };
    ctx.check_cancelled()?;
    let set = generate(&spec)?;
    let metrics = set.summary();
    let dataset = Dataset {
        name: "moving_shapes".into(),
        task: task_kinds::VIDEO_DETECT,
        data: DatasetData::Videos(set),
    };
    Ok(StageOutput::single(Artifact::Dataset(Arc::new(dataset))).with_metrics(&metrics))
}

fn check(spec: &Spec) -> Result<(), StageError> {
    let problem = if spec.classes == 0 || spec.classes > KINDS.len() {
        format!("classes must be 1..{}, got {}", KINDS.len(), spec.classes)
    } else if spec.size < 16 {
        format!("size must be at least 16 pixels, got {}", spec.size)
    } else if spec.frames == 0 || spec.videos == 0 || spec.objects == 0 {
        "videos, frames and objects must be at least 1".to_string()
    } else if spec.labeled_every == 0 {
        "labeled_every must be at least 1".to_string()
    } else if !(spec.max_speed.is_finite() && spec.max_speed >= 0.0) {
        format!(
            "max_speed must be a non-negative number, got {}",
            spec.max_speed
        )
    } else {
        return Ok(());
    };
    Err(StageError::Invalid(problem))
}

pub fn generate(spec: &Spec) -> Result<VideoSet, StageError> {
    check(spec)?;
    let videos: Vec<Video> = (0..spec.videos)
        .into_par_iter()
        .map(|v| render_video(spec, v))
        .collect();
    let mut set = VideoSet {
        channels: 1,
        height: spec.size,
        width: spec.size,
        class_names: KINDS[..spec.classes]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        frames: Vec::with_capacity(spec.videos * spec.frames),
        x: Vec::with_capacity(spec.videos * spec.frames * spec.size * spec.size),
        motion: Some(Vec::with_capacity(
            spec.videos * spec.frames * 2 * spec.size * spec.size,
        )),
    };
    for (v, video) in videos.into_iter().enumerate() {
        for (t, boxes) in video.boxes.into_iter().enumerate() {
            set.frames.push(FrameInfo {
                video: v,
                index: t,
                labeled: t % spec.labeled_every == 0,
                boxes,
            });
        }
        set.x.extend(video.x);
        if let Some(m) = set.motion.as_mut() {
            m.extend(video.motion);
        }
    }
    Ok(set)
}

/// One object's path: centre at frame t is `start + t * velocity`.
struct Object {
    class: u32,
    radius: f32,
    start: (f32, f32),
    velocity: (f32, f32),
    intensity: f32,
    /// Stripe direction and spatial frequency (cycles per pixel), carried along.
    stripe: (f32, f32, f32),
}

impl Object {
    fn centre(&self, t: usize) -> (f32, f32) {
        (
            self.start.0 + t as f32 * self.velocity.0,
            self.start.1 + t as f32 * self.velocity.1,
        )
    }

    fn kind(&self) -> &'static str {
        KINDS[self.class as usize]
    }

    /// Whether the point (x, y) in pixels is inside the object at frame t.
    fn covers(&self, t: usize, x: f32, y: f32) -> bool {
        let (cx, cy) = self.centre(t);
        inside(self.kind(), (x - cx) / self.radius, (y - cy) / self.radius)
    }

    /// Grey value at (x, y): a stripe texture that moves with the object.
    fn shade(&self, t: usize, x: f32, y: f32) -> f32 {
        let (cx, cy) = self.centre(t);
        let (dx, dy, freq) = self.stripe;
        let phase = ((x - cx) * dx + (y - cy) * dy) * freq * TAU;
        self.intensity * (0.8 + 0.2 * phase.sin())
    }

    /// Half-extents of the shape's box, in pixels.
    fn half_extent(&self) -> (f32, f32) {
        let (ex, ey) = match self.kind() {
            "square" => (0.8, 0.8),
            "triangle" => (0.9, 0.9),
            "cross" => (0.95, 0.95),
            "hbar" => (0.95, 0.3),
            "vbar" => (0.3, 0.95),
            _ => (1.0, 1.0),
        };
        (ex * self.radius, ey * self.radius)
    }
}

struct Video {
    x: Vec<f32>,
    motion: Vec<f32>,
    boxes: Vec<Vec<BoxLabel>>,
}

fn video_rng(seed: u64, video: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(video as u64 + 1);
    rng
}

/// An object that is inside the frame at a random moment of the video and
/// moves at up to `max_speed`, so it may enter or leave.
fn random_object(spec: &Spec, rng: &mut ChaCha8Rng) -> Object {
    let side = spec.size as f32;
    let radius = rng.gen_range(0.08..0.16) * side;
    let speed = rng.gen_range(0.0..=1.0f32).sqrt() * spec.max_speed;
    let heading = rng.gen_range(0.0..TAU);
    let velocity = (speed * heading.cos(), speed * heading.sin());
    let seen_at = rng.gen_range(0..spec.frames) as f32;
    let seen = (
        rng.gen_range(radius..side - radius),
        rng.gen_range(radius..side - radius),
    );
    let angle = rng.gen_range(0.0..TAU);
    Object {
        class: rng.gen_range(0..spec.classes) as u32,
        radius,
        start: (seen.0 - seen_at * velocity.0, seen.1 - seen_at * velocity.1),
        velocity,
        intensity: rng.gen_range(0.55..1.0),
        stripe: (angle.cos(), angle.sin(), rng.gen_range(0.12..0.25)),
    }
}

/// A static background: a few low-frequency waves between 0.05 and 0.4.
fn background(size: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let waves: Vec<(f32, f32, f32, f32)> = (0..3)
        .map(|_| {
            let angle = rng.gen_range(0.0..TAU);
            let freq = rng.gen_range(0.03..0.1);
            (
                angle.cos() * freq,
                angle.sin() * freq,
                rng.gen_range(0.0..TAU),
                rng.gen_range(0.03..0.08),
            )
        })
        .collect();
    let mut img = Vec::with_capacity(size * size);
    for y in 0..size {
        for x in 0..size {
            let v: f32 = waves
                .iter()
                .map(|&(fx, fy, p, a)| a * ((x as f32 * fx + y as f32 * fy) * TAU + p).sin())
                .sum();
            img.push((0.22 + v).clamp(0.05, 0.4));
        }
    }
    img
}

fn render_video(spec: &Spec, v: usize) -> Video {
    let mut rng = video_rng(spec.seed, v);
    let n_objects = rng.gen_range(1..=spec.objects);
    let objects: Vec<Object> = (0..n_objects)
        .map(|_| random_object(spec, &mut rng))
        .collect();
    let bg = background(spec.size, &mut rng);
    let plane = spec.size * spec.size;
    let mut video = Video {
        x: Vec::with_capacity(spec.frames * plane),
        motion: Vec::with_capacity(spec.frames * 2 * plane),
        boxes: Vec::with_capacity(spec.frames),
    };
    for t in 0..spec.frames {
        let (img, owner) = render_frame(spec.size, &bg, &objects, t);
        video.x.extend(
            img.iter()
                .map(|&p| (p + spec.noise * gaussian(&mut rng)).clamp(0.0, 1.0)),
        );
        let last = t + 1 == spec.frames;
        for axis in 0..2 {
            video.motion.extend(owner.iter().map(|o| match o {
                Some(i) if !last => {
                    let vel = objects[*i].velocity;
                    if axis == 0 {
                        vel.0
                    } else {
                        vel.1
                    }
                }
                _ => 0.0,
            }));
        }
        video
            .boxes
            .push(visible_boxes(spec.size, &objects, &owner, t));
    }
    video
}

/// The noiseless frame and, per pixel, the topmost object at its centre.
fn render_frame(
    size: usize,
    bg: &[f32],
    objects: &[Object],
    t: usize,
) -> (Vec<f32>, Vec<Option<usize>>) {
    let mut img = bg.to_vec();
    let mut owner = vec![None; size * size];
    let step = 1.0 / SUPER as f32;
    for (i, obj) in objects.iter().enumerate() {
        let (x0, x1, y0, y1) = pixel_span(obj, t, size);
        for py in y0..y1 {
            for px in x0..x1 {
                let mut sum = 0.0;
                let mut hits = 0;
                for sy in 0..SUPER {
                    for sx in 0..SUPER {
                        let x = px as f32 + (sx as f32 + 0.5) * step;
                        let y = py as f32 + (sy as f32 + 0.5) * step;
                        if obj.covers(t, x, y) {
                            hits += 1;
                            sum += obj.shade(t, x, y);
                        }
                    }
                }
                if hits == 0 {
                    continue;
                }
                let cover = hits as f32 / (SUPER * SUPER) as f32;
                let k = py * size + px;
                img[k] = img[k] * (1.0 - cover) + sum / (SUPER * SUPER) as f32;
                if obj.covers(t, px as f32 + 0.5, py as f32 + 0.5) {
                    owner[k] = Some(i);
                }
            }
        }
    }
    (img, owner)
}

/// The pixel columns and rows an object's box touches at frame t, clipped.
fn pixel_span(obj: &Object, t: usize, size: usize) -> (usize, usize, usize, usize) {
    let (cx, cy) = obj.centre(t);
    let (hx, hy) = obj.half_extent();
    let clip = |v: f32| v.floor().clamp(0.0, size as f32) as usize;
    (
        clip(cx - hx),
        clip(cx + hx + 1.0),
        clip(cy - hy),
        clip(cy + hy + 1.0),
    )
}

/// Boxes of the objects whose visible part is large enough, clipped to the frame.
fn visible_boxes(
    size: usize,
    objects: &[Object],
    owner: &[Option<usize>],
    t: usize,
) -> Vec<BoxLabel> {
    let mut boxes = Vec::new();
    let side = size as f32;
    for (i, obj) in objects.iter().enumerate() {
        let visible = owner.iter().filter(|o| **o == Some(i)).count() as f32;
        let (hx, hy) = obj.half_extent();
        let full = full_pixel_count(obj, hx, hy);
        if full == 0.0 || visible < MIN_VISIBLE * full {
            continue;
        }
        let (cx, cy) = obj.centre(t);
        let x0 = (cx - hx).clamp(0.0, side);
        let y0 = (cy - hy).clamp(0.0, side);
        let x1 = (cx + hx).clamp(0.0, side);
        let y1 = (cy + hy).clamp(0.0, side);
        if x1 - x0 < MIN_SIDE || y1 - y0 < MIN_SIDE {
            continue;
        }
        boxes.push(BoxLabel {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
            class: obj.class,
            crowd: false,
            soft: None,
        });
    }
    boxes
}

/// Pixel centres the shape covers when nothing hides it.
fn full_pixel_count(obj: &Object, hx: f32, hy: f32) -> f32 {
    let mut n = 0usize;
    let (nx, ny) = (hx.ceil() as i64 + 1, hy.ceil() as i64 + 1);
    for dy in -ny..=ny {
        for dx in -nx..=nx {
            let u = (dx as f32 + 0.5) / obj.radius;
            let v = (dy as f32 + 0.5) / obj.radius;
            n += usize::from(inside(obj.kind(), u, v));
        }
    }
    n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> Spec {
        Spec {
            videos: 3,
            frames: 12,
            size: 32,
            objects: 3,
            classes: 3,
            labeled_every: 4,
            seed,
            max_speed: 2.0,
            noise: 0.02,
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        let a = generate(&spec(7)).expect("videos");
        assert_eq!(a, generate(&spec(7)).expect("videos"));
        assert_ne!(a.x, generate(&spec(8)).expect("videos").x);
        a.validate().expect("consistent");
    }

    #[test]
    fn every_kth_frame_is_labelled() {
        let set = generate(&spec(1)).expect("videos");
        assert_eq!(set.len(), 36);
        assert_eq!(set.videos(), 3);
        let labelled: Vec<usize> = set
            .frames
            .iter()
            .filter(|f| f.labeled)
            .map(|f| f.index)
            .collect();
        assert_eq!(labelled, vec![0, 4, 8, 0, 4, 8, 0, 4, 8]);
    }

    #[test]
    fn boxes_follow_the_true_motion() {
        // Along a video, a box that stays fully inside the frame moves by the
        // true motion at its centre.
        let set = generate(&Spec {
            objects: 1,
            max_speed: 1.5,
            noise: 0.0,
            ..spec(3)
        })
        .expect("videos");
        let mut checked = 0;
        for i in 0..set.len() - 1 {
            let (Some(j), [a]) = (set.neighbour(i, 1), set.frames[i].boxes.as_slice()) else {
                continue;
            };
            let [b] = set.frames[j].boxes.as_slice() else {
                continue;
            };
            let inner =
                |r: &BoxLabel| r.x > 0.0 && r.y > 0.0 && r.x + r.w < 32.0 && r.y + r.h < 32.0;
            if !inner(a) || !inner(b) {
                continue;
            }
            let motion = set.motion(i).expect("motion");
            let (cx, cy) = ((a.x + a.w / 2.0) as usize, (a.y + a.h / 2.0) as usize);
            let (mx, my) = (motion[cy * 32 + cx], motion[1024 + cy * 32 + cx]);
            if mx == 0.0 && my == 0.0 {
                continue; // the centre is a hole (ring) or the object is still
            }
            assert!((b.x - a.x - mx).abs() < 1e-4 && (b.y - a.y - my).abs() < 1e-4);
            checked += 1;
        }
        assert!(checked > 5, "too few comparable frame pairs: {checked}");
    }

    #[test]
    fn objects_enter_and_leave() {
        let set = generate(&Spec {
            videos: 10,
            frames: 30,
            ..spec(2)
        })
        .expect("videos");
        let counts: Vec<usize> = set.frames.iter().map(|f| f.boxes.len()).collect();
        let changes = counts.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(changes > 3, "box counts never change: {counts:?}");
        assert!(set.x.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
