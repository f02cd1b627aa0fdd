//! `dataset.regions(n, size, vocab, seed, unseen, regions, part)`: procedural
//! colour images made of several regions (a background and shapes painted over
//! it), each with a pixel mask and a noun, for open-vocabulary region
//! classification (OVSeg). A noun is a colour and a texture ("red striped"); the
//! vocabulary is split into seen nouns (the `train` part draws only these) and
//! unseen nouns (the `test` part draws all nouns), and every unseen noun's
//! colour and texture each occur in some seen noun, so an encoder that learned
//! the attributes can recognise the unseen combination. The payload type
//! `RegionSet` and its files live here. Deterministic: images depend on
//! (seed, part); the vocabulary and its split depend only on (vocab, unseen), so
//! a train and a test set made separately agree on which nouns are unseen.
//! Never panics on a stored file: `from_files` checks every length and index.

use crate::artifact::{f32_bytes, f32_from_bytes, file, json_bytes, json_file, Artifact, Files};
use crate::dataset::{Dataset, DatasetData};
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use crate::task_kinds;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Colour attributes and their RGB values in [0, 1].
pub const COLOURS: [(&str, [f32; 3]); 6] = [
    ("red", [0.85, 0.15, 0.15]),
    ("green", [0.15, 0.70, 0.20]),
    ("blue", [0.20, 0.30, 0.90]),
    ("yellow", [0.90, 0.85, 0.15]),
    ("magenta", [0.80, 0.20, 0.80]),
    ("cyan", [0.15, 0.80, 0.85]),
];
/// Texture attributes (a brightness pattern over the colour).
pub const TEXTURES: [&str; 5] = ["plain", "striped", "barred", "checkered", "dotted"];
/// Texture period in pixels of the full image (project default).
const PERIOD: f32 = 6.0;
/// Brightness of a texture's dark part relative to its bright part.
const DARK: f32 = 0.3;
/// Standard deviation of the Gaussian pixel noise.
const NOISE: f32 = 0.03;
/// A painted shape keeps at least this fraction of the image visible, else it is redrawn.
const MIN_AREA: f32 = 0.04;
/// Redraws of a shape before it is left out of the image.
const TRIES: usize = 10;

/// One vocabulary entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noun {
    /// `red_striped`.
    pub name: String,
    /// The attribute words a text encoder reads: `["red", "striped"]`.
    pub words: Vec<String>,
    /// Whether training data may contain it.
    pub seen: bool,
}

/// Images `[N, 3, size, size]` in [0, 1], each partitioned into regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionSet {
    pub size: usize,
    pub nouns: Vec<Noun>,
    /// Per image, the noun of each region (region `r` is entry `r`).
    pub region_nouns: Vec<Vec<u32>>,
    #[serde(skip)]
    pub x: Vec<f32>,
    /// `N × size × size`: the region index of every pixel.
    #[serde(skip)]
    pub region_map: Vec<u8>,
}

impl RegionSet {
    pub fn len(&self) -> usize {
        self.region_nouns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.region_nouns.is_empty()
    }

    pub fn pixels(&self) -> usize {
        self.size * self.size
    }

    /// Image `i` as `[3, size, size]`.
    pub fn image(&self, i: usize) -> &[f32] {
        let n = 3 * self.pixels();
        &self.x[i * n..(i + 1) * n]
    }

    /// The region index of every pixel of image `i`.
    pub fn regions_of(&self, i: usize) -> &[u8] {
        &self.region_map[i * self.pixels()..(i + 1) * self.pixels()]
    }

    /// The binary mask of region `r` of image `i`.
    pub fn mask(&self, i: usize, r: usize) -> Vec<bool> {
        self.regions_of(i)
            .iter()
            .map(|&v| v as usize == r)
            .collect()
    }

    /// Every (image, region) pair, in order.
    pub fn all_regions(&self) -> Vec<(usize, usize)> {
        (0..self.len())
            .flat_map(|i| (0..self.region_nouns[i].len()).map(move |r| (i, r)))
            .collect()
    }

    /// Indices of the seen nouns, in vocabulary order.
    pub fn seen(&self) -> Vec<u32> {
        (0..self.nouns.len() as u32)
            .filter(|&k| self.nouns[k as usize].seen)
            .collect()
    }

    pub(crate) fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("regions.json".to_string(), json_bytes(self)?),
            ("x.f32".to_string(), f32_bytes(&self.x)),
            ("regions.u8".to_string(), self.region_map.clone()),
        ]))
    }

    pub(crate) fn from_files(files: &Files) -> Result<Self, StageError> {
        let mut set: RegionSet = json_file(files, "regions.json")?;
        set.x = f32_from_bytes(file(files, "x.f32")?, "x.f32")?;
        set.region_map = file(files, "regions.u8")?.to_vec();
        set.check()?;
        Ok(set)
    }

    /// Lengths agree, every pixel names an existing region, every region an existing noun.
    fn check(&self) -> Result<(), StageError> {
        let corrupt = |m: &str| Err(StageError::Corrupt(m.to_string()));
        if self.x.len() != self.len() * 3 * self.pixels() {
            return corrupt("`x.f32` has the wrong length");
        }
        if self.region_map.len() != self.len() * self.pixels() {
            return corrupt("`regions.u8` has the wrong length");
        }
        let vocab = self.nouns.len() as u32;
        if self.region_nouns.iter().flatten().any(|&k| k >= vocab) {
            return corrupt("`regions.json` names a noun outside the vocabulary");
        }
        for i in 0..self.len() {
            let count = self.region_nouns[i].len();
            if self.regions_of(i).iter().any(|&r| r as usize >= count) {
                return corrupt("`regions.u8` names a region the image does not have");
            }
        }
        Ok(())
    }
}

pub fn run(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let spec = Spec {
        n: input.usize("n")?,
        size: input.usize("size")?,
        vocab: input.usize("vocab")?,
        unseen: input.f64("unseen")?,
        regions: input.usize("regions")?,
        test: input.str("part")? == "test",
        seed: Seed::read(input)?,
    };
    ctx.check_cancelled()?;
    let set = generate(&spec)?;
    let metrics = BTreeMap::from([
        ("samples".to_string(), set.len() as f64),
        ("regions".to_string(), set.all_regions().len() as f64),
        ("nouns".to_string(), set.nouns.len() as f64),
        ("seen_nouns".to_string(), set.seen().len() as f64),
    ]);
    let dataset = Dataset {
        name: format!("regions/{}", if spec.test { "test" } else { "train" }),
        task: task_kinds::SEGMENT,
        data: DatasetData::Regions(set),
    };
    Ok(StageOutput::single(Artifact::Dataset(Arc::new(dataset))).with_metrics(&metrics))
}

#[derive(Debug, Clone)]
pub struct Spec {
    pub n: usize,
    pub size: usize,
    pub vocab: usize,
    /// Fraction of the vocabulary held out from training.
    pub unseen: f64,
    /// Regions per image, at most (the background counts as one).
    pub regions: usize,
    /// The test part draws every noun; the train part only seen ones.
    pub test: bool,
    pub seed: u64,
}

pub fn generate(spec: &Spec) -> Result<RegionSet, StageError> {
    if spec.size < 8 {
        return Err(StageError::Invalid(format!(
            "`size` must be at least 8 pixels, got {}",
            spec.size
        )));
    }
    if spec.regions == 0 || spec.regions > usize::from(u8::MAX) {
        return Err(StageError::Invalid(format!(
            "`regions` must be 1..255, got {}",
            spec.regions
        )));
    }
    let nouns = vocabulary(spec.vocab, spec.unseen)?;
    let pool: Vec<u32> = (0..nouns.len() as u32)
        .filter(|&k| spec.test || nouns[k as usize].seen)
        .collect();
    // The part is mixed into the seed so one seed gives two disjoint streams.
    let stream = spec.seed.wrapping_mul(2).wrapping_add(u64::from(spec.test));
    let mut rng = ChaCha8Rng::seed_from_u64(stream);
    let mut set = RegionSet {
        size: spec.size,
        nouns,
        region_nouns: Vec::with_capacity(spec.n),
        x: Vec::with_capacity(spec.n * 3 * spec.size * spec.size),
        region_map: Vec::with_capacity(spec.n * spec.size * spec.size),
    };
    for _ in 0..spec.n {
        let (map, shapes) = layout(spec.size, spec.regions, &mut rng);
        let mut picked = pool.clone();
        picked.shuffle(&mut rng);
        // Distinct nouns per image while the pool lasts, then repeats.
        let region_nouns: Vec<u32> = (0..shapes).map(|r| picked[r % picked.len()]).collect();
        paint(&mut set.x, &map, &region_nouns, spec.size, &mut rng);
        set.region_map.extend_from_slice(&map);
        set.region_nouns.push(region_nouns);
    }
    Ok(set)
}

/// The vocabulary: the first `vocab` colour × texture pairs, the last ones held
/// out while their attributes remain covered by seen nouns.
pub fn vocabulary(vocab: usize, unseen: f64) -> Result<Vec<Noun>, StageError> {
    let most = COLOURS.len() * TEXTURES.len();
    if !(2..=most).contains(&vocab) {
        return Err(StageError::Invalid(format!(
            "`vocab` must be 2..{most} ({} colours × {} textures), got {vocab}",
            COLOURS.len(),
            TEXTURES.len()
        )));
    }
    let pairs: Vec<(usize, usize)> = attribute_pairs().take(vocab).collect();
    let wanted = ((unseen * vocab as f64).round() as usize).min(vocab - 2);
    let mut seen = vec![true; vocab];
    let mut held = 0;
    for k in (0..vocab).rev() {
        if held == wanted {
            break;
        }
        let (c, t) = pairs[k];
        let covered = |f: &dyn Fn(usize) -> bool| (0..vocab).any(|j| j != k && seen[j] && f(j));
        if covered(&|j| pairs[j].0 == c) && covered(&|j| pairs[j].1 == t) {
            seen[k] = false;
            held += 1;
        }
    }
    if held < wanted {
        return Err(StageError::Invalid(format!(
            "only {held} of {vocab} nouns can be held out with their colour and texture still seen, \
             but `unseen` asks for {wanted}; lower `unseen` or raise `vocab`"
        )));
    }
    Ok(pairs
        .iter()
        .zip(seen)
        .map(|(&(c, t), seen)| Noun {
            name: format!("{}_{}", COLOURS[c].0, TEXTURES[t]),
            words: vec![COLOURS[c].0.to_string(), TEXTURES[t].to_string()],
            seen,
        })
        .collect())
}

/// (colour, texture) index pairs in vocabulary order: every colour before any
/// colour repeats, the texture shifted by one per round.
fn attribute_pairs() -> impl Iterator<Item = (usize, usize)> {
    (0..TEXTURES.len()).flat_map(|d| (0..COLOURS.len()).map(move |c| (c, (c + d) % TEXTURES.len())))
}

/// A region index per pixel: region 0 is the background, each further one a
/// shape painted over the earlier ones. Returns the map and the region count.
fn layout(size: usize, most: usize, rng: &mut ChaCha8Rng) -> (Vec<u8>, usize) {
    let mut map = vec![0u8; size * size];
    let wanted = if most < 2 { 1 } else { rng.gen_range(2..=most) };
    let min_pixels = (MIN_AREA * (size * size) as f32).ceil() as usize;
    let mut count = 1;
    for _ in 1..wanted {
        for _ in 0..TRIES {
            let mut next = map.clone();
            draw_shape(&mut next, size, count as u8, rng);
            // Every region painted so far must stay big enough to classify.
            let big_enough = (0..=count)
                .all(|r| next.iter().filter(|&&v| v as usize == r).count() >= min_pixels);
            if big_enough {
                map = next;
                count += 1;
                break;
            }
        }
    }
    (map, count)
}

/// Paints one ellipse, rectangle or triangle with value `id`.
fn draw_shape(map: &mut [u8], size: usize, id: u8, rng: &mut ChaCha8Rng) {
    let side = size as f32;
    let kind = rng.gen_range(0..3);
    let (rx, ry) = (
        rng.gen_range(0.18..0.4) * side,
        rng.gen_range(0.18..0.4) * side,
    );
    let cx = rng.gen_range(0.15..0.85) * side;
    let cy = rng.gen_range(0.15..0.85) * side;
    for y in 0..size {
        for x in 0..size {
            let u = (x as f32 + 0.5 - cx) / rx;
            let v = (y as f32 + 0.5 - cy) / ry;
            let inside = match kind {
                0 => u * u + v * v <= 1.0,
                1 => u.abs() <= 0.9 && v.abs() <= 0.9,
                _ => (-1.0..=1.0).contains(&v) && u.abs() <= (v + 1.0) * 0.5,
            };
            if inside {
                map[y * size + x] = id;
            }
        }
    }
}

/// Appends the image `[3, size, size]`: each region's colour under its texture
/// (random phase per region), plus Gaussian noise.
fn paint(x: &mut Vec<f32>, map: &[u8], nouns: &[u32], size: usize, rng: &mut ChaCha8Rng) {
    let pairs: Vec<(usize, usize)> = attribute_pairs().collect();
    let phases: Vec<(f32, f32)> = nouns
        .iter()
        .map(|_| (rng.gen_range(0.0..PERIOD), rng.gen_range(0.0..PERIOD)))
        .collect();
    let start = x.len();
    x.resize(start + 3 * size * size, 0.0);
    let image = &mut x[start..];
    for (p, &r) in map.iter().enumerate() {
        let (c, t) = pairs[nouns[r as usize] as usize];
        let (px, py) = phases[r as usize];
        let fx = (p % size) as f32 + px;
        let fy = (p / size) as f32 + py;
        let bright = DARK + (1.0 - DARK) * texture(TEXTURES[t], fx, fy);
        for ch in 0..3 {
            let value = COLOURS[c].1[ch] * bright + NOISE * gaussian(rng);
            image[ch * size * size + p] = value.clamp(0.0, 1.0);
        }
    }
}

/// The texture's brightness (0 dark, 1 bright) at image point (x, y).
fn texture(kind: &str, x: f32, y: f32) -> f32 {
    let half = PERIOD / 2.0;
    let band = |v: f32| (v.rem_euclid(PERIOD) < half) as u8 as f32;
    match kind {
        "striped" => band(y),
        "barred" => band(x),
        "checkered" => ((band(x) + band(y)) as u8 % 2) as f32,
        "dotted" => {
            let (dx, dy) = (x.rem_euclid(PERIOD) - half, y.rem_euclid(PERIOD) - half);
            (dx * dx + dy * dy <= 1.6 * 1.6) as u8 as f32
        }
        _ => 1.0,
    }
}

/// A standard normal draw (Box-Muller).
fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(f32::EPSILON..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64, test: bool) -> Spec {
        Spec {
            n: 24,
            size: 16,
            vocab: 12,
            unseen: 0.25,
            regions: 3,
            test,
            seed,
        }
    }

    #[test]
    fn deterministic_and_parts_differ() {
        let a = generate(&spec(3, false)).unwrap();
        assert_eq!(a, generate(&spec(3, false)).unwrap());
        assert_ne!(a.x, generate(&spec(4, false)).unwrap().x);
        assert_ne!(a.x, generate(&spec(3, true)).unwrap().x);
    }

    #[test]
    fn unseen_nouns_share_attributes_with_seen_ones() {
        let nouns = vocabulary(12, 0.25).unwrap();
        let unseen: Vec<&Noun> = nouns.iter().filter(|n| !n.seen).collect();
        assert_eq!(unseen.len(), 3);
        for noun in unseen {
            for (i, word) in noun.words.iter().enumerate() {
                assert!(
                    nouns.iter().any(|n| n.seen && &n.words[i] == word),
                    "{} has an attribute no seen noun has",
                    noun.name
                );
            }
        }
        let names: std::collections::BTreeSet<&String> = nouns.iter().map(|n| &n.name).collect();
        assert_eq!(names.len(), 12, "nouns are distinct");
    }

    #[test]
    fn train_part_holds_only_seen_nouns_and_test_part_all() {
        let train = generate(&Spec {
            n: 80,
            ..spec(1, false)
        })
        .unwrap();
        let test = generate(&Spec {
            n: 80,
            ..spec(1, true)
        })
        .unwrap();
        let used = |s: &RegionSet| -> std::collections::BTreeSet<u32> {
            s.region_nouns.iter().flatten().copied().collect()
        };
        assert!(used(&train).iter().all(|&k| train.nouns[k as usize].seen));
        assert_eq!(used(&test).len(), 12);
    }

    #[test]
    fn every_region_is_visible_and_painted_in_its_colour() {
        let set = generate(&Spec {
            n: 40,
            ..spec(2, true)
        })
        .unwrap();
        let min = (MIN_AREA * 256.0).ceil() as usize;
        for (i, r) in set.all_regions() {
            let mask = set.mask(i, r);
            assert!(mask.iter().filter(|&&m| m).count() >= min);
            // The region's mean colour is closest to its noun's colour (up to brightness).
            let image = set.image(i);
            let mut mean = [0f32; 3];
            for (p, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
                (0..3).for_each(|ch| mean[ch] += image[ch * 256 + p]);
            }
            let colour = &set.nouns[set.region_nouns[i][r] as usize].words[0];
            let best = COLOURS
                .iter()
                .max_by(|a, b| cosine(&a.1, &mean).total_cmp(&cosine(&b.1, &mean)))
                .unwrap();
            assert_eq!(&best.0, colour);
        }
    }

    fn cosine(a: &[f32; 3], b: &[f32; 3]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let n = |v: &[f32; 3]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (n(a) * n(b)).max(1e-9)
    }

    #[test]
    fn files_round_trip_and_corruption_is_reported() {
        let set = generate(&spec(5, true)).unwrap();
        let files = set.to_files().unwrap();
        assert_eq!(RegionSet::from_files(&files).unwrap(), set);
        let mut bad = files.clone();
        bad.get_mut("regions.u8").unwrap()[0] = 200;
        let err = RegionSet::from_files(&bad).unwrap_err().to_string();
        assert!(err.contains("regions.u8"), "{err}");
        let mut short = files;
        short.get_mut("x.f32").unwrap().truncate(8);
        assert!(RegionSet::from_files(&short)
            .unwrap_err()
            .to_string()
            .contains("x.f32"));
    }

    #[test]
    fn impossible_vocabularies_are_rejected_with_the_fix() {
        let err = vocabulary(31, 0.25).unwrap_err().to_string();
        assert!(err.contains("2..30"), "{err}");
        let err = vocabulary(6, 0.5).unwrap_err().to_string();
        assert!(err.contains("raise `vocab`"), "{err}");
    }
}
