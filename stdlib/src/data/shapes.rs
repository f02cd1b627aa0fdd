//! `dataset.shapes(n, size, classes, noise, seed)`: procedural grayscale images,
//! one shape kind per class, at a random position, size and intensity, with
//! Gaussian pixel noise. Shapes are drawn with 4×4 supersampling so small images
//! still show partial coverage at edges. Class-balanced (class of image i is
//! i mod classes before shuffling) and deterministic for a seed.

use super::{classify_set, single_output};
use crate::dataset::ImageSet;
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The shape kinds, in class order.
pub const KINDS: [&str; 8] = [
    "circle", "square", "triangle", "cross", "ring", "diamond", "hbar", "vbar",
];
/// Subsamples per pixel side.
const SUPER: usize = 4;

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let spec = Spec {
        n: input.usize("n")?,
        size: input.usize("size")?,
        classes: input.usize("classes")?,
        noise: input.f64("noise")? as f32,
        seed: Seed::read(input)?,
    };
    ctx.check_cancelled()?;
    single_output(classify_set("shapes", generate(&spec)?))
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub n: usize,
    pub size: usize,
    pub classes: usize,
    pub noise: f32,
    pub seed: u64,
}

pub fn generate(spec: &Spec) -> Result<ImageSet, StageError> {
    if spec.classes < 2 || spec.classes > KINDS.len() {
        return Err(StageError::Invalid(format!(
            "classes must be 2..{}, got {}",
            KINDS.len(),
            spec.classes
        )));
    }
    if spec.size < 8 {
        return Err(StageError::Invalid(format!(
            "size must be at least 8 pixels, got {}",
            spec.size
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let mut labels: Vec<u32> = (0..spec.n).map(|i| (i % spec.classes) as u32).collect();
    labels.shuffle(&mut rng);
    let mut x = Vec::with_capacity(spec.n * spec.size * spec.size);
    for &label in &labels {
        x.extend(draw(KINDS[label as usize], spec.size, spec.noise, &mut rng));
    }
    Ok(ImageSet {
        channels: 1,
        height: spec.size,
        width: spec.size,
        class_names: KINDS[..spec.classes]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        x,
        y: labels,
    })
}

/// One image: a shape of radius 20-42% of the side, fully inside the frame.
fn draw(kind: &str, size: usize, noise: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let side = size as f32;
    let radius = rng.gen_range(0.2..0.42) * side;
    let cx = rng.gen_range(radius..=side - radius);
    let cy = rng.gen_range(radius..=side - radius);
    let intensity = rng.gen_range(0.5f32..1.0);
    let step = 1.0 / SUPER as f32;
    let mut img = Vec::with_capacity(size * size);
    for py in 0..size {
        for px in 0..size {
            let mut hits = 0;
            for sy in 0..SUPER {
                for sx in 0..SUPER {
                    let u = (px as f32 + (sx as f32 + 0.5) * step - cx) / radius;
                    let v = (py as f32 + (sy as f32 + 0.5) * step - cy) / radius;
                    hits += usize::from(inside(kind, u, v));
                }
            }
            let coverage = hits as f32 / (SUPER * SUPER) as f32;
            let value = coverage * intensity + noise * gaussian(rng);
            img.push(value.clamp(0.0, 1.0));
        }
    }
    img
}

/// Whether the point (u, v), in units of the shape's radius from its centre, is inside.
pub(crate) fn inside(kind: &str, u: f32, v: f32) -> bool {
    let (au, av) = (u.abs(), v.abs());
    let r = (u * u + v * v).sqrt();
    match kind {
        "circle" => r <= 1.0,
        "square" => au <= 0.8 && av <= 0.8,
        // Apex up: zero width at v = -0.9, full width 1.8 at v = 0.9.
        "triangle" => (-0.9..=0.9).contains(&v) && au <= (v + 0.9) * 0.5,
        "cross" => (au <= 0.25 && av <= 0.95) || (av <= 0.25 && au <= 0.95),
        "ring" => (0.6..=1.0).contains(&r),
        "diamond" => au + av <= 1.0,
        "hbar" => au <= 0.95 && av <= 0.3,
        "vbar" => av <= 0.95 && au <= 0.3,
        _ => false,
    }
}

/// A standard normal draw (Box-Muller).
pub(crate) fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> Spec {
        Spec {
            n: 64,
            size: 16,
            classes: 8,
            noise: 0.05,
            seed,
        }
    }

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        let a = generate(&spec(3)).expect("shapes");
        assert_eq!(a, generate(&spec(3)).expect("shapes"));
        assert_ne!(a.x, generate(&spec(4)).expect("shapes").x);
    }

    #[test]
    fn balanced_in_range_and_shaped() {
        let set = generate(&spec(0)).expect("shapes");
        assert_eq!(
            (set.len(), set.height, set.width, set.classes()),
            (64, 16, 16, 8)
        );
        for c in 0..8 {
            assert_eq!(set.y.iter().filter(|&&y| y == c).count(), 8);
        }
        assert!(set.x.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn shapes_differ_in_area_as_geometry_says() {
        // Without noise, mean coverage per class follows each shape's area.
        let set = generate(&Spec {
            n: 800,
            size: 32,
            classes: 8,
            noise: 0.0,
            seed: 1,
        })
        .expect("shapes");
        let mut mass = [0f32; 8];
        for i in 0..set.len() {
            mass[set.y[i] as usize] += set.image(i).iter().sum::<f32>();
        }
        let (circle, ring, diamond, square) = (mass[0], mass[4], mass[5], mass[1]);
        assert!(ring < circle, "a ring covers less than a disc");
        assert!(
            diamond < circle,
            "a diamond (area 2) covers less than a disc (area pi)"
        );
        assert!(
            square < circle && square > diamond,
            "square area 2.56 lies between"
        );
    }

    #[test]
    fn nearest_class_mean_separates_classes() {
        // The classes must be learnable: a nearest-centroid classifier on
        // held-out images beats chance by a wide margin.
        let train = generate(&Spec {
            n: 800,
            size: 16,
            classes: 4,
            noise: 0.05,
            seed: 5,
        })
        .expect("shapes");
        let test = generate(&Spec {
            n: 200,
            size: 16,
            classes: 4,
            noise: 0.05,
            seed: 6,
        })
        .expect("shapes");
        let d = train.image_len();
        let mut centroids = vec![vec![0f32; d]; 4];
        for i in 0..train.len() {
            let c = &mut centroids[train.y[i] as usize];
            c.iter_mut().zip(train.image(i)).for_each(|(a, b)| *a += b);
        }
        let correct = (0..test.len())
            .filter(|&i| {
                let img = test.image(i);
                let dist = |c: &Vec<f32>| {
                    c.iter()
                        .zip(img)
                        .map(|(a, b)| (a / 200.0 - b).powi(2))
                        .sum::<f32>()
                };
                let best =
                    (0..4).min_by(|&a, &b| dist(&centroids[a]).total_cmp(&dist(&centroids[b])));
                best == Some(test.y[i] as usize)
            })
            .count();
        assert!(
            correct > 80,
            "nearest centroid got {correct}/200; chance is 50"
        );
    }

    #[test]
    fn rejects_impossible_class_counts() {
        let err = generate(&Spec {
            classes: 9,
            ..spec(0)
        })
        .unwrap_err();
        assert!(err.to_string().contains("classes must be 2..8"));
    }
}
