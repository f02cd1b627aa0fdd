//! OVSeg on a `model.dual_encoder` (docs/papers.md section 6): region preprocessing
//! as ov-seg's CLIP adapter (crop the mask's bounding box, fill pixels outside
//! the mask with the mean pixel, bicubic resize; the mask nearest), text
//! features averaged over prompt templates, region classification at
//! logits = 100 · cosine, and the stages that train the pair on region data:
//! `model.dual_encoder`, the `regions` branch of `train.contrastive`,
//! `finetune.mask_prompt` and the dual-encoder branch of `finetune.full`.
//! Never changes a frozen tower: what trains is set explicitly per stage.

use crate::artifact::Artifact;
use crate::data::regions::{Noun, RegionSet};
use crate::metrics::{Metrics, Table};
use crate::model::{nn_error, Model};
use crate::params::{Optimisation, Seed};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::clip::{clip_loss, MAX_LOG_SCALE};
use pipe_nn::init::Rng8;
use pipe_nn::layer::{Mode, Tensor};
use pipe_nn::loss::argmax;
use pipe_nn::mask_prompt::{token_mask, PromptInit};
use pipe_nn::models::dual_encoder::{DualEncoder, DualEncoderSpec, Trainable};
use pipe_nn::optim::Optimizer;
use pipe_nn::train::TrainConfig;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::Arc;

/// ViLD-style prompt templates (the first 14 of ViLD's list as ov-seg's
/// `text_template.py` copies it, lower-cased, article `a`, no punctuation);
/// `{}` stands for the noun's words.
pub const TEMPLATES: [&str; 14] = [
    "there is a {} in the scene",
    "there is the {} in the scene",
    "a photo of a {} in the scene",
    "a photo of the {} in the scene",
    "a photo of one {} in the scene",
    "itap of a {}",
    "itap of my {}",
    "itap of the {}",
    "a photo of a {}",
    "a photo of my {}",
    "a photo of the {}",
    "a photo of one {}",
    "a photo of many {}",
    "a good photo of a {}",
];
/// The padding token, word 0 of every text vocabulary.
pub const PAD: &str = "<pad>";
/// ov-seg's CLIP adapter temperature: logits = 100 · cosine.
pub const LOGIT_SCALE: f32 = 100.0;
/// Crops per inference batch.
const BATCH: usize = 128;

/// `model.dual_encoder`: the text vocabulary (template words and the input's
/// attribute words) and the pixel statistics come from the `input` dataset.
pub fn dual_encoder(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let data = input.dataset("input")?.regions()?;
    let dim = input.usize("dim")?;
    let (mean, std) = pixel_stats(data);
    let spec = DualEncoderSpec {
        crop: input.usize("crop")?,
        patch: input.usize("patch")?,
        dim,
        embed: dim,
        depth: input.usize("depth")?,
        heads: input.usize("heads")?,
        text_depth: input.usize("text_depth")?,
        mlp_ratio: 4.0,
        words: text_vocabulary(&data.nouns),
        context: context_length(&data.nouns),
        mean,
        std,
        seed: Seed::read(input)?,
        mask_prompt: None,
    };
    let mut model = DualEncoder::build(&spec).map_err(nn_error)?;
    let metrics = BTreeMap::from([
        ("params".to_string(), model.trainable_params() as f64),
        ("macs".to_string(), model.arch().macs() as f64),
    ]);
    let saved = Model::from_dual_encoder(&mut model)?;
    Ok(StageOutput::single(Artifact::Model(Arc::new(saved))).with_metrics(&metrics))
}

/// `<pad>`, then every template word and attribute word once, sorted.
fn text_vocabulary(nouns: &[Noun]) -> Vec<String> {
    let mut words: Vec<String> = TEMPLATES
        .iter()
        .flat_map(|t| t.split(' '))
        .filter(|w| *w != "{}")
        .map(String::from)
        .chain(nouns.iter().flat_map(|n| n.words.iter().cloned()))
        .collect();
    words.sort();
    words.dedup();
    [vec![PAD.to_string()], words].concat()
}

/// The longest template with the longest noun in it.
fn context_length(nouns: &[Noun]) -> usize {
    let template = TEMPLATES
        .iter()
        .map(|t| t.split(' ').count() - 1)
        .max()
        .unwrap_or(0);
    template + nouns.iter().map(|n| n.words.len()).max().unwrap_or(1)
}

/// Per-channel mean and standard deviation over every pixel.
fn pixel_stats(data: &RegionSet) -> ([f32; 3], [f32; 3]) {
    let plane = data.pixels();
    let mut sum = [0f64; 3];
    let mut sq = [0f64; 3];
    for i in 0..data.len() {
        for (ch, values) in data.image(i).chunks_exact(plane).enumerate() {
            for &v in values {
                sum[ch] += f64::from(v);
                sq[ch] += f64::from(v) * f64::from(v);
            }
        }
    }
    let count = (data.len() * plane).max(1) as f64;
    let mean = sum.map(|s| s / count);
    let std = [0, 1, 2].map(|c| ((sq[c] / count - mean[c] * mean[c]).max(1e-6)).sqrt() as f32);
    (mean.map(|m| m as f32), std)
}

/// Region crops ready for the image tower: normalised pixels `[N, 3, c, c]`,
/// the region masks at crop resolution `[N, c, c]` and each region's noun.
pub struct Crops {
    pub side: usize,
    pub pixels: Vec<f32>,
    pub masks: Vec<bool>,
    pub nouns: Vec<u32>,
}

impl Crops {
    pub fn len(&self) -> usize {
        self.nouns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nouns.is_empty()
    }

    /// The batch of samples `idx`: pixels `[B, 3, c, c]` and masks.
    fn batch(&self, idx: &[usize]) -> (Tensor, Vec<bool>) {
        let (px, mk) = (3 * self.side * self.side, self.side * self.side);
        let mut x = Vec::with_capacity(idx.len() * px);
        let mut m = Vec::with_capacity(idx.len() * mk);
        for &i in idx {
            x.extend_from_slice(&self.pixels[i * px..(i + 1) * px]);
            m.extend_from_slice(&self.masks[i * mk..(i + 1) * mk]);
        }
        let shape = [idx.len(), 3, self.side, self.side];
        (Tensor::from_vec(&shape, x), m)
    }
}

/// Which window of a region becomes its crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// OVSeg: the mask's bounding box, pixels outside the mask filled with the
    /// mean pixel (`MASK_FILL: mean`, `MASK_EXPAND_RATIO` 1.0).
    Masked,
    /// The largest square inside the mask: a crop the region fills entirely,
    /// like the object-centred natural images CLIP is pre-trained on.
    Interior,
}

/// Crops of `regions` (image, region) of `data` for `spec`'s image tower.
pub fn crops(
    data: &RegionSet,
    regions: &[(usize, usize)],
    spec: &DualEncoderSpec,
    framing: Framing,
) -> Crops {
    let c = spec.crop;
    let mut out = Crops {
        side: c,
        pixels: Vec::with_capacity(regions.len() * 3 * c * c),
        masks: Vec::with_capacity(regions.len() * c * c),
        nouns: Vec::with_capacity(regions.len()),
    };
    for &(i, r) in regions {
        let mask = data.mask(i, r);
        let (x0, y0, w, h) = match framing {
            Framing::Masked => bbox(&mask, data.size),
            Framing::Interior => interior_square(&mask, data.size),
        };
        let fill = framing == Framing::Masked;
        let image = data.image(i);
        for ch in 0..3 {
            let plane = &image[ch * data.pixels()..(ch + 1) * data.pixels()];
            let mut region = Vec::with_capacity(w * h);
            for y in y0..y0 + h {
                for x in x0..x0 + w {
                    let p = y * data.size + x;
                    region.push(if fill && !mask[p] {
                        spec.mean[ch]
                    } else {
                        plane[p]
                    });
                }
            }
            let resized = resize_bicubic(&region, w, h, c);
            out.pixels
                .extend(resized.iter().map(|v| (v - spec.mean[ch]) / spec.std[ch]));
        }
        let mut boxed = Vec::with_capacity(w * h);
        for y in y0..y0 + h {
            boxed.extend_from_slice(&mask[y * data.size + x0..y * data.size + x0 + w]);
        }
        out.masks.extend(resize_nearest(&boxed, w, h, c));
        out.nouns.push(data.region_nouns[i][r]);
    }
    out
}

/// The bounding box (x0, y0, width, height) of a non-empty mask; the whole
/// image for an empty one.
fn bbox(mask: &[bool], size: usize) -> (usize, usize, usize, usize) {
    let (mut x0, mut y0, mut x1, mut y1) = (size, size, 0, 0);
    for (p, _) in mask.iter().enumerate().filter(|(_, &m)| m) {
        let (x, y) = (p % size, p / size);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0, 0, size, size);
    }
    (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
}

/// The largest square (x0, y0, side, side) whose pixels are all inside the
/// mask (the first found, scanning rows); the whole image for an empty mask.
fn interior_square(mask: &[bool], size: usize) -> (usize, usize, usize, usize) {
    let mut run = vec![0usize; size * size];
    let (mut best, mut at) = (0, 0);
    for p in (0..size * size).filter(|&p| mask[p]) {
        let (x, y) = (p % size, p / size);
        run[p] = if x == 0 || y == 0 {
            1
        } else {
            1 + run[p - 1].min(run[p - size]).min(run[p - size - 1])
        };
        if run[p] > best {
            (best, at) = (run[p], p);
        }
    }
    if best == 0 {
        return (0, 0, size, size);
    }
    let (x1, y1) = (at % size, at / size);
    (x1 + 1 - best, y1 + 1 - best, best, best)
}

/// Keys' cubic convolution weight with A = -0.75 (PyTorch's bicubic).
fn cubic(t: f32) -> f32 {
    const A: f32 = -0.75;
    let t = t.abs();
    if t <= 1.0 {
        ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A
    } else {
        0.0
    }
}

/// One axis of a bicubic resize (align_corners = false, edges clamped): for
/// each output index, four source indices and their weights.
fn cubic_taps(len: usize, out: usize) -> Vec<[(usize, f32); 4]> {
    let scale = len as f32 / out as f32;
    (0..out)
        .map(|o| {
            let src = (o as f32 + 0.5) * scale - 0.5;
            let base = src.floor();
            let t = src - base;
            [-1i64, 0, 1, 2].map(|k| {
                let i = (base as i64 + k).clamp(0, len as i64 - 1) as usize;
                (i, cubic(t - k as f32))
            })
        })
        .collect()
}

/// A `w × h` plane resized to `side × side`, bicubic (ov-seg resizes regions bicubic).
fn resize_bicubic(plane: &[f32], w: usize, h: usize, side: usize) -> Vec<f32> {
    let (tx, ty) = (cubic_taps(w, side), cubic_taps(h, side));
    let rows: Vec<f32> = (0..h)
        .flat_map(|y| {
            let row = &plane[y * w..(y + 1) * w];
            tx.iter()
                .map(move |taps| taps.iter().map(|&(i, k)| row[i] * k).sum::<f32>())
        })
        .collect();
    let mut out = vec![0.0; side * side];
    for (oy, taps) in ty.iter().enumerate() {
        for ox in 0..side {
            out[oy * side + ox] = taps.iter().map(|&(i, k)| rows[i * side + ox] * k).sum();
        }
    }
    out
}

/// A `w × h` mask resized to `side × side`, nearest (PyTorch's `nearest`).
fn resize_nearest(mask: &[bool], w: usize, h: usize, side: usize) -> Vec<bool> {
    let pick = |o: usize, len: usize| ((o * len) / side).min(len - 1);
    (0..side * side)
        .map(|p| mask[pick(p / side, h) * w + pick(p % side, w)])
        .collect()
}

/// Token ids of `template` with `{}` replaced by the noun's words.
fn prompt_ids(model: &DualEncoder, template: &str, noun: &Noun) -> Result<Vec<u32>, StageError> {
    let words: Vec<&str> = template
        .split(' ')
        .flat_map(|w| {
            if w == "{}" {
                noun.words.iter().map(String::as_str).collect()
            } else {
                vec![w]
            }
        })
        .collect();
    model.tokenize(&words).map_err(nn_error)
}

/// Unit rows of `[N, D]` values, in place; returns each row's norm.
fn normalize_rows(x: &mut [f32], d: usize) -> Vec<f32> {
    x.chunks_exact_mut(d)
        .map(|row| {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-8);
            row.iter_mut().for_each(|v| *v /= norm);
            norm
        })
        .collect()
}

/// Text features `[K, E]` of `nouns`: each template's embedding normalised,
/// averaged over the templates, normalised again (ViLD / ov-seg ensemble).
pub fn text_features(model: &mut DualEncoder, nouns: &[&Noun]) -> Result<Vec<f32>, StageError> {
    let mut ids = Vec::new();
    for noun in nouns {
        for template in TEMPLATES {
            ids.extend(prompt_ids(model, template, noun)?);
        }
    }
    let context = model.spec.context;
    let e = model.spec.embed;
    let mut all = model.text.forward(&ids, context, Mode::Eval).data;
    normalize_rows(&mut all, e);
    let mut out = Vec::with_capacity(nouns.len() * e);
    for per_noun in all.chunks_exact(TEMPLATES.len() * e) {
        let mut mean = vec![0.0; e];
        for row in per_noun.chunks_exact(e) {
            mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
        }
        out.extend(mean);
    }
    normalize_rows(&mut out, e);
    Ok(out)
}

/// The token masks of a batch when the image tower carries prompts.
fn prompt_mask(model: &DualEncoder, masks: &[bool], side: usize) -> Option<Vec<f32>> {
    model
        .image
        .prompt
        .as_ref()
        .map(|_| token_mask(masks, side, model.spec.patch))
}

/// Unit image embeddings `[N, E]` of every crop, in evaluation mode.
pub fn image_features(model: &mut DualEncoder, crops: &Crops) -> Vec<f32> {
    let all: Vec<usize> = (0..crops.len()).collect();
    let mut out = Vec::with_capacity(crops.len() * model.spec.embed);
    for idx in all.chunks(BATCH) {
        let (x, masks) = crops.batch(idx);
        let tokens = prompt_mask(model, &masks, crops.side);
        out.extend(model.image.forward(x, tokens.as_deref(), Mode::Eval).data);
    }
    normalize_rows(&mut out, model.spec.embed);
    out
}

/// Per crop, the index (into the text rows) of the most similar text feature.
pub fn classify(model: &mut DualEncoder, crops: &Crops, text: &[f32]) -> Vec<usize> {
    let e = model.spec.embed;
    image_features(model, crops)
        .chunks_exact(e)
        .map(|img| {
            let logits: Vec<f32> = text
                .chunks_exact(e)
                .map(|t| LOGIT_SCALE * t.iter().zip(img).map(|(a, b)| a * b).sum::<f32>())
                .collect();
            argmax(&logits)
        })
        .collect()
}

/// One epoch's numbers.
struct Epoch {
    loss: f64,
    accuracy: f64,
    lr: f32,
}

/// The regions of seen nouns, and the seen nouns.
/// (image, region) pairs.
type RegionList = Vec<(usize, usize)>;

fn seen_regions(data: &RegionSet) -> Result<(RegionList, Vec<u32>), StageError> {
    let seen = data.seen();
    let regions: Vec<(usize, usize)> = data
        .all_regions()
        .into_iter()
        .filter(|&(i, r)| data.nouns[data.region_nouns[i][r] as usize].seen)
        .collect();
    if regions.is_empty() || seen.len() < 2 {
        return Err(StageError::Invalid(
            "the dataset has no regions of seen nouns (or fewer than 2 seen nouns) to train on; \
             use `dataset.regions(part: \"train\")`"
                .into(),
        ));
    }
    Ok((regions, seen))
}

/// Cross-entropy of `100 · cos(image, text_k)` over the seen nouns (the
/// classifier region inference uses) for a batch of raw image embeddings;
/// returns (summed loss, correct, gradient wrt the raw embeddings).
fn cosine_ce(emb: &Tensor, text: &[f32], labels: &[usize]) -> (f64, usize, Tensor) {
    let e = emb.cols();
    let mut unit = emb.data.clone();
    let norms = normalize_rows(&mut unit, e);
    let n = labels.len().max(1) as f32;
    let (mut loss, mut correct) = (0.0f64, 0usize);
    let mut grad = vec![0.0; emb.len()];
    for (b, &y) in labels.iter().enumerate() {
        let u = &unit[b * e..(b + 1) * e];
        let logits: Vec<f32> = text
            .chunks_exact(e)
            .map(|t| LOGIT_SCALE * t.iter().zip(u).map(|(a, c)| a * c).sum::<f32>())
            .collect();
        correct += usize::from(argmax(&logits) == y);
        let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let log_z = max + logits.iter().map(|v| (v - max).exp()).sum::<f32>().ln();
        loss += f64::from(log_z - logits[y]);
        // dL/du = 100 · Σ_k (p_k − 1[k=y]) t_k, then through u = x/|x|.
        let mut du = vec![0.0; e];
        for (k, t) in text.chunks_exact(e).enumerate() {
            let coef = LOGIT_SCALE * ((logits[k] - log_z).exp() - f32::from(k == y)) / n;
            du.iter_mut().zip(t).for_each(|(g, tv)| *g += coef * tv);
        }
        let dot: f32 = du.iter().zip(u).map(|(a, c)| a * c).sum();
        for ((g, d), uv) in grad[b * e..(b + 1) * e].iter_mut().zip(&du).zip(u) {
            *g = (d - uv * dot) / norms[b];
        }
    }
    (loss, correct, Tensor::from_vec(&emb.shape, grad))
}

/// Trains what `which` unfreezes on masked crops of seen-noun regions against
/// the frozen text features of the seen nouns (OVSeg locks the text tower in
/// both its fine-tuning stages).
fn tune(
    model: &mut DualEncoder,
    data: &RegionSet,
    opt: &TrainConfig,
    which: Trainable,
    ctx: &StageContext,
) -> Result<Vec<Epoch>, StageError> {
    let (regions, seen) = seen_regions(data)?;
    let seen_nouns: Vec<&Noun> = seen.iter().map(|&k| &data.nouns[k as usize]).collect();
    let text = text_features(model, &seen_nouns)?;
    let crops = crops(data, &regions, &model.spec, Framing::Masked);
    let labels: Vec<usize> = crops
        .nouns
        .iter()
        .map(|k| seen.iter().position(|s| s == k).unwrap_or(0))
        .collect();
    model.set_trainable(which);
    let steps = crops.len().div_ceil(opt.batch_size);
    let schedule = opt.lr_schedule(steps);
    ctx.progress
        .set_total((opt.epochs * steps) as u64, "batches");
    let mut optimizer = Optimizer::new(opt.optimizer, opt.weight_decay);
    let mut rng = Rng8::seed_from_u64(opt.seed);
    let mut order: Vec<usize> = (0..crops.len()).collect();
    let mut curve = Vec::with_capacity(opt.epochs);
    let mut step = 0;
    for _ in 0..opt.epochs {
        order.shuffle(&mut rng);
        let (mut loss, mut correct, mut lr) = (0.0, 0, opt.lr);
        for idx in order.chunks(opt.batch_size) {
            let (x, masks) = crops.batch(idx);
            let tokens = prompt_mask(model, &masks, crops.side);
            let batch_labels: Vec<usize> = idx.iter().map(|&i| labels[i]).collect();
            model.zero_grad();
            let emb = model.image.forward(x, tokens.as_deref(), Mode::Train);
            let (l, c, grad) = cosine_ce(&emb, &text, &batch_labels);
            model.image.backward(grad);
            lr = schedule.lr(step);
            model.step(&mut optimizer, lr, opt.clip);
            (loss, correct, step) = (loss + l, correct + c, step + 1);
            ctx.progress.advance(1);
            ctx.check_cancelled()?;
        }
        let n = crops.len() as f64;
        curve.push(Epoch {
            loss: loss / n,
            accuracy: correct as f64 / n,
            lr,
        });
    }
    Ok(curve)
}

/// Region accuracy over the seen-noun regions of `data`, among the seen nouns.
fn seen_accuracy(model: &mut DualEncoder, data: &RegionSet) -> Result<f64, StageError> {
    let (regions, seen) = seen_regions(data)?;
    let nouns: Vec<&Noun> = seen.iter().map(|&k| &data.nouns[k as usize]).collect();
    let text = text_features(model, &nouns)?;
    let crops = crops(data, &regions, &model.spec, Framing::Masked);
    let predicted = classify(model, &crops, &text);
    let hits = predicted
        .iter()
        .zip(&crops.nouns)
        .filter(|(&p, &k)| seen[p] == k)
        .count();
    Ok(hits as f64 / crops.len().max(1) as f64)
}

/// `finetune.mask_prompt`: OVSeg's mask prompt tuning; both towers frozen,
/// only `mask_embedding` trains.
pub fn mask_prompt(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut model = input.model("model")?.dual_encoder()?;
    let data = input.dataset("data")?.regions()?;
    let opt = Optimisation::read(input)?;
    let init = match input.str("init")? {
        "zeros" => PromptInit::Zeros,
        "uniform" => PromptInit::Uniform,
        _ => PromptInit::Normal,
    };
    let before = seen_accuracy(&mut model, data)?;
    model
        .add_mask_prompt(input.usize("depth")?, init, opt.seed)
        .map_err(nn_error)?;
    let which = Trainable {
        image: false,
        text: false,
        prompt: true,
        logit_scale: false,
    };
    tune_output(model, data, &opt, which, before, ctx)
}

/// `finetune.full` on a dual encoder: the whole image tower trains on masked
/// region crops, the text tower stays locked (OVSeg's `--lock-text`).
pub fn full(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut model = input.model("model")?.dual_encoder()?;
    let data = input.dataset("data")?.regions()?;
    let opt = Optimisation::read(input)?;
    let before = seen_accuracy(&mut model, data)?;
    let which = Trainable {
        image: true,
        text: false,
        prompt: true,
        logit_scale: false,
    };
    tune_output(model, data, &opt, which, before, ctx)
}

fn tune_output(
    mut model: DualEncoder,
    data: &RegionSet,
    opt: &TrainConfig,
    which: Trainable,
    before: f64,
    ctx: &StageContext,
) -> Result<StageOutput, StageError> {
    let trainable = {
        model.set_trainable(which);
        model.trainable_params()
    };
    let curve = tune(&mut model, data, opt, which, ctx)?;
    let after = seen_accuracy(&mut model, data)?;
    let last = curve.last();
    let values = BTreeMap::from([
        ("accuracy_before".to_string(), before),
        ("accuracy".to_string(), after),
        ("train_loss".to_string(), last.map_or(f64::NAN, |e| e.loss)),
        ("trainable_params".to_string(), trainable as f64),
        ("epochs".to_string(), curve.len() as f64),
    ]);
    let curves = BTreeMap::from([
        (
            "train_loss".to_string(),
            curve.iter().map(|e| e.loss).collect(),
        ),
        (
            "train_accuracy".to_string(),
            curve.iter().map(|e| e.accuracy).collect(),
        ),
    ]);
    let metrics = Metrics { values, curves };
    let saved = Model::from_dual_encoder(&mut model)?;
    Ok(StageOutput::record([
        ("model", Artifact::Model(Arc::new(saved))),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(curve_table(&curve)))),
    ])
    .with_metrics(&metrics.values))
}

fn curve_table(curve: &[Epoch]) -> Table {
    Table::numeric(
        "training curve",
        ["epoch", "loss", "accuracy", "lr"],
        curve
            .iter()
            .enumerate()
            .map(|(i, e)| [(i + 1) as f64, e.loss, e.accuracy, f64::from(e.lr)]),
    )
}

/// Batches of distinct nouns: CLIP's loss treats every other pair in a batch
/// as a negative, so two regions of one noun must not share a batch.
fn distinct_batches(nouns: &[u32], batch: usize, rng: &mut Rng8) -> Vec<Vec<usize>> {
    let mut by_noun: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &k) in nouns.iter().enumerate() {
        by_noun.entry(k).or_default().push(i);
    }
    let mut queues: Vec<Vec<usize>> = by_noun.into_values().collect();
    queues.iter_mut().for_each(|q| q.shuffle(rng));
    let mut batches = Vec::new();
    loop {
        let mut open: Vec<usize> = (0..queues.len())
            .filter(|&q| !queues[q].is_empty())
            .collect();
        if open.is_empty() {
            return batches;
        }
        open.shuffle(rng);
        open.truncate(batch.max(2));
        batches.push(open.iter().filter_map(|&q| queues[q].pop()).collect());
    }
}

/// `train.contrastive` on a `regions` dataset: CLIP's symmetric InfoNCE
/// between the image tower on region crops and the text tower on the region's
/// noun in a random template, both towers and the temperature training. The
/// crops are the largest squares inside each region (`Framing::Interior`):
/// pre-training sees crops the object fills, as CLIP's natural images, and the
/// masked crops with blank areas are what OVSeg's tuning adapts to (the
/// project's stand-in for that domain gap).
pub fn contrastive(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let a = input.model("a")?;
    if input.model("b")? != a {
        return Err(StageError::Invalid(
            "for a regions dataset pass the same `model.dual_encoder` as `a` and `b`: its image \
             and text towers train against each other"
                .into(),
        ));
    }
    let mut model = a.dual_encoder()?;
    let data = input.dataset("data")?.regions()?;
    let opt = Optimisation::read(input)?;
    let learn = input.bool("learn_temperature")?;
    model.logit_scale.value.data[0] = (1.0 / input.f64("temperature")? as f32).ln();
    model.set_trainable(Trainable {
        image: true,
        text: true,
        prompt: false,
        logit_scale: learn,
    });
    let (regions, _) = seen_regions(data)?;
    let crops = crops(data, &regions, &model.spec, Framing::Interior);
    let curve = contrastive_epochs(&mut model, data, &crops, &opt, ctx)?;
    let last = curve.last();
    let values = BTreeMap::from([
        ("train_loss".to_string(), last.map_or(f64::NAN, |e| e.loss)),
        (
            "image_to_text".to_string(),
            last.map_or(f64::NAN, |e| e.i2t),
        ),
        (
            "text_to_image".to_string(),
            last.map_or(f64::NAN, |e| e.t2i),
        ),
        (
            "temperature".to_string(),
            f64::from((-model.logit_scale.value.data[0]).exp()),
        ),
        ("epochs".to_string(), curve.len() as f64),
    ]);
    let curves = BTreeMap::from([
        (
            "train_loss".to_string(),
            curve.iter().map(|e| e.loss).collect(),
        ),
        (
            "image_to_text".to_string(),
            curve.iter().map(|e| e.i2t).collect(),
        ),
        (
            "text_to_image".to_string(),
            curve.iter().map(|e| e.t2i).collect(),
        ),
    ]);
    let metrics = Metrics { values, curves };
    let table = Table::numeric(
        "contrastive training curve",
        ["epoch", "loss", "image_to_text", "text_to_image"],
        curve
            .iter()
            .enumerate()
            .map(|(i, e)| [(i + 1) as f64, e.loss, e.i2t, e.t2i]),
    );
    let saved = Arc::new(Model::from_dual_encoder(&mut model)?);
    Ok(StageOutput::record([
        ("a", Artifact::Model(saved.clone())),
        ("b", Artifact::Model(saved)),
        ("metrics", Artifact::Metrics(Arc::new(metrics.clone()))),
        ("curve", Artifact::Table(Arc::new(table))),
    ])
    .with_metrics(&metrics.values))
}

struct ContrastiveEpoch {
    loss: f64,
    i2t: f64,
    t2i: f64,
}

fn contrastive_epochs(
    model: &mut DualEncoder,
    data: &RegionSet,
    crops: &Crops,
    opt: &TrainConfig,
    ctx: &StageContext,
) -> Result<Vec<ContrastiveEpoch>, StageError> {
    let mut rng = Rng8::seed_from_u64(opt.seed);
    let steps = distinct_batches(&crops.nouns, opt.batch_size, &mut rng.clone()).len();
    let schedule = opt.lr_schedule(steps);
    ctx.progress
        .set_total((opt.epochs * steps) as u64, "batches");
    let mut optimizer = Optimizer::new(opt.optimizer, opt.weight_decay);
    let mut curve = Vec::with_capacity(opt.epochs);
    let mut step = 0;
    for _ in 0..opt.epochs {
        let (mut loss, mut i2t, mut t2i) = (0.0, 0, 0);
        for idx in distinct_batches(&crops.nouns, opt.batch_size, &mut rng) {
            let (x, _) = crops.batch(&idx);
            let mut ids = Vec::new();
            for &i in &idx {
                let template = TEMPLATES.choose(&mut rng).copied().unwrap_or(TEMPLATES[0]);
                ids.extend(prompt_ids(
                    model,
                    template,
                    &data.nouns[crops.nouns[i] as usize],
                )?);
            }
            model.zero_grad();
            let img = model.image.forward(x, None, Mode::Train);
            let txt = model.text.forward(&ids, model.spec.context, Mode::Train);
            let out = clip_loss(&img, &txt, model.logit_scale.value.data[0]);
            model.image.backward(out.grad_a);
            model.text.backward(out.grad_b);
            model.logit_scale.accumulate(&[out.grad_log_scale]);
            model.step(&mut optimizer, schedule.lr(step), opt.clip);
            let scale = &mut model.logit_scale.value.data[0];
            *scale = scale.clamp(0.0, MAX_LOG_SCALE);
            loss += f64::from(out.loss) * idx.len() as f64;
            (i2t, t2i, step) = (i2t + out.a_to_b_correct, t2i + out.b_to_a_correct, step + 1);
            ctx.progress.advance(1);
            ctx.check_cancelled()?;
        }
        let n = crops.len().max(1) as f64;
        curve.push(ContrastiveEpoch {
            loss: loss / n,
            i2t: i2t as f64 / n,
            t2i: t2i as f64 / n,
        });
    }
    Ok(curve)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bicubic_keeps_constants_and_is_the_identity_at_the_same_size() {
        let plane: Vec<f32> = (0..12).map(|v| v as f32 * 0.1).collect();
        assert_eq!(resize_bicubic(&plane[..9], 3, 3, 3), plane[..9].to_vec());
        let flat = resize_bicubic(&[0.4; 6], 3, 2, 5);
        assert!(flat.iter().all(|v| (v - 0.4).abs() < 1e-6), "{flat:?}");
        // A horizontal ramp stays monotone along x after upsampling.
        let ramp: Vec<f32> = (0..16).map(|p| (p % 4) as f32).collect();
        let up = resize_bicubic(&ramp, 4, 4, 8);
        assert!(up[..8].windows(2).all(|w| w[1] >= w[0]), "{up:?}");
    }

    #[test]
    fn nearest_mask_and_bbox_follow_the_region() {
        // A 4×2 mask with its right half set, upsampled to 8×8.
        let mask = [false, false, true, true, false, false, true, true];
        let up = resize_nearest(&mask, 4, 2, 8);
        assert!((0..64).all(|p| up[p] == (p % 8 >= 4)));
        let mut region = vec![false; 36];
        region[6 + 2] = true;
        region[4 * 6 + 3] = true;
        assert_eq!(bbox(&region, 6), (2, 1, 2, 4));
        assert_eq!(bbox(&[false; 36], 6), (0, 0, 6, 6));
        // A 3×3 block at (1, 2) plus a stray pixel: the block is the interior square.
        let mut block = vec![false; 36];
        for y in 2..5 {
            for x in 1..4 {
                block[y * 6 + x] = true;
            }
        }
        block[5] = true;
        assert_eq!(interior_square(&block, 6), (1, 2, 3, 3));
    }

    #[test]
    fn distinct_batches_never_repeat_a_noun_and_cover_every_region() {
        let nouns = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3];
        let mut rng = Rng8::seed_from_u64(1);
        let batches = distinct_batches(&nouns, 3, &mut rng);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        for b in &batches {
            let mut k: Vec<u32> = b.iter().map(|&i| nouns[i]).collect();
            k.sort_unstable();
            k.dedup();
            assert_eq!(k.len(), b.len());
            assert!(b.len() <= 3);
        }
    }
}
