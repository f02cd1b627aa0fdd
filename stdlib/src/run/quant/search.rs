//! `quant.evolq` and `quant.cptv`: the Evol-Q block-wise steady-state
//! evolutionary search over the per-channel weight scales of the attention
//! projections (`qkv`, `proj`), exactly as docs/papers.md §1.2 reads the code:
//! blocks last first, `passes` over all blocks, per block a population of
//! copies of the current scales, `cycles` tournaments of `samples` drawn with
//! replacement, child = |parent + U(-r, r)|, the worst dropped.
//!
//! The fitness is global for both stages: whichever block is searched, it
//! compares the whole quantized network's final outputs (logits) with the
//! full-precision ones computed once (CPT-V's "block-wise search of a global
//! contrastive objective"; Evol-Q is the same code base). It must never score a
//! block by its own output alone. A fitness evaluation reruns only the blocks
//! from the searched one on (the earlier blocks' quantized outputs are cached
//! per block); calibration batches are scored in parallel, each worker on its
//! own replica of the network, and summed in batch order, so the result does
//! not depend on the thread count. All randomness comes from one seeded ChaCha8.

use super::calibrate::{calibrate, Method};
use super::fitness::Loss;
use super::{accuracy, apply, batches, float_network, optional_images, output, Batch, Options};
use crate::metrics::{Cell, Table};
use crate::params::Seed;
use crate::run::fits::check_fits;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::quant::{attention_projections, QuantState};
use pipe_nn::{Layer, Mode, Network, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

/// Mutation radius below and above 8 bits (the code's `rng` for 3/4 bits and its fallback).
const RADIUS: f32 = 1e-3;
/// Mutation radius at 8 bits (the code's).
const RADIUS_8BIT: f32 = 1e-4;

pub fn evolq(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    search(input, ctx, "quant.evolq")
}

pub fn cptv(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    search(input, ctx, "quant.cptv")
}

/// The steady-state evolution's constants.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Evolution {
    pub population: usize,
    pub samples: usize,
    pub cycles: usize,
    pub radius: f32,
}

/// One searched block: its index among the network's blocks and the names of
/// its attention projection layers.
struct SearchBlock {
    index: usize,
    name: String,
    layers: Vec<String>,
}

fn evolution(input: &StageInput, bits: u32) -> Result<Evolution, StageError> {
    let radius = match input.f64("radius")? as f32 {
        r if r > 0.0 => r,
        _ if bits == 8 => RADIUS_8BIT,
        _ => RADIUS,
    };
    Ok(Evolution {
        population: input.usize("population")?.max(1),
        samples: input.usize("samples")?.max(1),
        cycles: input.usize("cycles")?,
        radius,
    })
}

fn search_blocks(net: &mut Network, stage: &str) -> Result<Vec<SearchBlock>, StageError> {
    let found = attention_projections(net);
    if found.is_empty() {
        return Err(StageError::Invalid(format!(
            "{stage} searches the weight scales of attention projections, but this `{}` model has no attention blocks; quantize it with quant.omse or quant.minmax, or build a `model.vit`",
            net.spec.name()
        )));
    }
    Ok(found
        .into_iter()
        .map(|(index, layers)| SearchBlock {
            name: net.blocks[index].name.clone(),
            index,
            layers,
        })
        .collect())
}

fn search(input: &StageInput, ctx: &StageContext, stage: &str) -> Result<StageOutput, StageError> {
    let start = Instant::now();
    let opts = Options::read(input)?;
    let evo = evolution(input, opts.bits)?;
    let passes = input.usize("passes")?;
    let loss_name = input.str("loss")?;
    let loss = Loss::named(loss_name, input.f64("temperature")?)
        .ok_or_else(|| StageError::Internal(format!("loss `{loss_name}` passed the checker")))?;
    let (mut net, calib) = float_network(input)?;
    let blocks = search_blocks(&mut net, stage)?;
    let val = optional_images(input, "val")?;
    if let Some(v) = val {
        check_fits(v, &net.spec)?;
    }
    let batches = batches(calib, input.usize("batch_size")?);
    let fp = accuracy(&mut net, calib);
    let targets = fp_outputs(&mut net, &batches);
    let mut state = calibrate(&mut net, calib, Method::named(input.str("init")?)?, &opts)?;
    let acc_start = accuracy(&mut net, calib);
    let val_start = val.map(|v| accuracy(&mut net, v));
    let model = input.model("model")?;
    let mut scorer = Scorer::new(model, &batches, targets, loss, &state)?;
    let loss_start = scorer.total(&state, &blocks)?;
    ctx.progress.set_total(
        (passes * blocks.len() * (evo.cycles + 1)) as u64,
        "evaluations",
    );

    let mut rng = ChaCha8Rng::seed_from_u64(Seed::read(input)?);
    let mut rows = Vec::new();
    let mut saved: Option<(f64, QuantState)> = None;
    let search_start = Instant::now();
    for pass in 0..passes {
        for block in blocks.iter().rev() {
            scorer.prepare(&state, block.index)?;
            let init = block_scales(&state, block);
            let init_loss = scorer.score(block, &init, &state)?;
            ctx.progress.advance(1);
            let (best, _) = evolve(
                &evo,
                &mut rng,
                init,
                init_loss,
                |scales| {
                    ctx.check_cancelled()?;
                    ctx.progress.advance(1);
                    scorer.score(block, scales, &state)
                },
                |cycle, child, best| {
                    rows.push(CurveRow {
                        pass,
                        block: block.name.clone(),
                        cycle,
                        child,
                        best,
                        start: init_loss,
                    });
                },
            )?;
            set_block_scales(&mut state, block, &best);
            if let Some(v) = val {
                apply(&mut net, &state)?;
                let acc = accuracy(&mut net, v);
                if pass == 0 || saved.as_ref().is_none_or(|(a, _)| acc > *a) {
                    saved = Some((acc, state.clone()));
                }
            }
        }
    }
    let search_seconds = search_start.elapsed().as_secs_f64();
    if let Some((_, best)) = saved {
        state = best;
    }
    apply(&mut net, &state)?;
    let loss_final = scorer.total(&state, &blocks)?;
    let evaluations = scorer.evaluations;
    let mut values = BTreeMap::from([
        ("accuracy_fp".to_string(), fp),
        ("accuracy_start".to_string(), acc_start),
        ("accuracy".to_string(), accuracy(&mut net, calib)),
        ("loss_start".to_string(), loss_start),
        ("loss_final".to_string(), loss_final),
        ("evaluations".to_string(), evaluations as f64),
        (
            "evals_per_second".to_string(),
            evaluations as f64 / search_seconds.max(1e-9),
        ),
        ("search_seconds".to_string(), search_seconds),
        ("seconds".to_string(), start.elapsed().as_secs_f64()),
        ("bits".to_string(), f64::from(opts.bits)),
        ("act_bits".to_string(), f64::from(opts.act_bits)),
        ("radius".to_string(), f64::from(evo.radius)),
    ]);
    if let (Some(v), Some(before)) = (val, val_start) {
        values.insert("val_accuracy_start".into(), before);
        values.insert("val_accuracy".into(), accuracy(&mut net, v));
    }
    let curves = BTreeMap::from([
        (
            "best_loss".to_string(),
            rows.iter().map(|r| r.best).collect(),
        ),
        (
            "child_loss".to_string(),
            rows.iter().map(|r| r.child).collect(),
        ),
    ]);
    output(&mut net, values, curves, Some(curve_table(&rows)))
}

/// One cycle of one block's search in one pass.
struct CurveRow {
    pass: usize,
    block: String,
    cycle: usize,
    child: f64,
    best: f64,
    /// The block's loss before this search.
    start: f64,
}

fn curve_table(rows: &[CurveRow]) -> Table {
    Table {
        title:
            "search fitness per pass, block and cycle (loss: lower is better; gain = start - best)"
                .into(),
        columns: ["pass", "block", "cycle", "child_loss", "best_loss", "gain"]
            .map(String::from)
            .to_vec(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Num(r.pass as f64),
                    Cell::Text(r.block.clone()),
                    Cell::Num(r.cycle as f64),
                    Cell::Num(r.child),
                    Cell::Num(r.best),
                    Cell::Num(r.start - r.best),
                ]
            })
            .collect(),
    }
}

/// The steady-state search of one block: a population of copies of `init`,
/// `cycles` times the best of `samples` members drawn with replacement is
/// mutated, the child joins and the worst leaves. Returns the best member;
/// `log(cycle, child loss, best loss)` after each cycle.
pub(crate) fn evolve(
    evo: &Evolution,
    rng: &mut ChaCha8Rng,
    init: Vec<f32>,
    init_loss: f64,
    mut score: impl FnMut(&[f32]) -> Result<f64, StageError>,
    mut log: impl FnMut(usize, f64, f64),
) -> Result<(Vec<f32>, f64), StageError> {
    let mut population = vec![(init_loss, init); evo.population];
    for cycle in 0..evo.cycles {
        let parent = (0..evo.samples)
            .map(|_| rng.gen_range(0..population.len()))
            .min_by(|&a, &b| population[a].0.total_cmp(&population[b].0))
            .unwrap_or(0);
        let child: Vec<f32> = population[parent]
            .1
            .iter()
            .map(|s| {
                (s + rng.gen_range(-evo.radius..evo.radius))
                    .abs()
                    .max(f32::EPSILON)
            })
            .collect();
        let loss = score(&child)?;
        population.push((loss, child));
        population.sort_by(|a, b| a.0.total_cmp(&b.0));
        population.pop();
        log(cycle, loss, population[0].0);
    }
    let (loss, scales) = population.swap_remove(0);
    Ok((scales, loss))
}

/// The block's searched scales: every projection's weight scales, in layer order.
fn block_scales(state: &QuantState, block: &SearchBlock) -> Vec<f32> {
    block
        .layers
        .iter()
        .filter_map(|name| state.get(name)?.weight_scales.clone())
        .flatten()
        .collect()
}

/// The hooks of `block` with `scales` in place of their weight scales.
fn with_scales(state: &QuantState, block: &SearchBlock, scales: &[f32]) -> QuantState {
    let mut out = QuantState::new();
    let mut at = 0;
    for name in &block.layers {
        let Some(mut q) = state.get(name).cloned() else {
            continue;
        };
        if let Some(s) = q.weight_scales.as_mut() {
            let n = s.len().min(scales.len().saturating_sub(at));
            s[..n].copy_from_slice(&scales[at..at + n]);
            at += n;
        }
        out.insert(name.clone(), q);
    }
    out
}

fn set_block_scales(state: &mut QuantState, block: &SearchBlock, scales: &[f32]) {
    let updated = with_scales(state, block, scales);
    state.extend(updated);
}

/// Runs `blocks[range]` of `net` on `x`.
fn run_blocks(net: &mut Network, range: Range<usize>, mut x: Tensor) -> Tensor {
    for block in &mut net.blocks[range] {
        x = block.body.forward(x, Mode::Eval);
    }
    x
}

/// The full-precision logits of every batch, computed once.
fn fp_outputs(net: &mut Network, batches: &[Batch]) -> Vec<Vec<f32>> {
    let depth = net.blocks.len();
    batches
        .iter()
        .map(|batch| run_blocks(net, 0..depth, batch.x.clone()).data)
        .collect()
}

/// A worker's network replica, the batches it scores and their cached inputs
/// to the searched block.
struct Replica {
    net: Network,
    owned: Vec<usize>,
    prefix: Vec<Tensor>,
}

/// Scores candidate scales of one block over the calibration batches.
struct Scorer<'a> {
    replicas: Vec<Replica>,
    batches: &'a [Batch],
    /// Full-precision logits per batch.
    targets: Vec<Vec<f32>>,
    loss: Loss,
    evaluations: usize,
}

impl<'a> Scorer<'a> {
    fn new(
        model: &crate::model::Model,
        batches: &'a [Batch],
        targets: Vec<Vec<f32>>,
        loss: Loss,
        state: &QuantState,
    ) -> Result<Scorer<'a>, StageError> {
        let workers = rayon::current_num_threads().clamp(1, batches.len().max(1));
        let mut replicas = Vec::with_capacity(workers);
        for w in 0..workers {
            let mut net = model.network()?;
            apply(&mut net, state)?;
            replicas.push(Replica {
                net,
                owned: (w..batches.len()).step_by(workers).collect(),
                prefix: Vec::new(),
            });
        }
        Ok(Scorer {
            replicas,
            batches,
            targets,
            loss,
            evaluations: 0,
        })
    }

    /// Sets `state` on every replica and caches each batch's input to block `index`.
    fn prepare(&mut self, state: &QuantState, index: usize) -> Result<(), StageError> {
        let batches = self.batches;
        self.replicas
            .par_iter_mut()
            .map(|r| {
                apply(&mut r.net, state)?;
                r.prefix = r
                    .owned
                    .iter()
                    .map(|&b| run_blocks(&mut r.net, 0..index, batches[b].x.clone()))
                    .collect();
                Ok(())
            })
            .collect::<Result<Vec<()>, StageError>>()?;
        Ok(())
    }

    /// The mean loss over all batches of the final outputs with `scales` on
    /// `block` (after `prepare`): the blocks from `block` on are rerun.
    fn score(
        &mut self,
        block: &SearchBlock,
        scales: &[f32],
        state: &QuantState,
    ) -> Result<f64, StageError> {
        let hooks = with_scales(state, block, scales);
        let (batches, targets, loss) = (self.batches, &self.targets, self.loss);
        let parts = self
            .replicas
            .par_iter_mut()
            .map(|r| {
                apply(&mut r.net, &hooks)?;
                let range = block.index..r.net.blocks.len();
                let mut out = Vec::with_capacity(r.owned.len());
                for (&b, x) in r.owned.iter().zip(&r.prefix) {
                    let y = run_blocks(&mut r.net, range.clone(), x.clone());
                    out.push((b, loss.eval(&y.data, &targets[b], batches[b].y.len())));
                }
                Ok(out)
            })
            .collect::<Result<Vec<_>, StageError>>()?;
        let mut per_batch: Vec<(usize, f64)> = parts.into_iter().flatten().collect();
        per_batch.sort_by_key(|(b, _)| *b);
        self.evaluations += 1;
        Ok(per_batch.iter().map(|(_, l)| l).sum::<f64>() / per_batch.len().max(1) as f64)
    }

    /// The loss of `state` as a whole (scored from the last searched block on,
    /// its input computed under `state`).
    fn total(&mut self, state: &QuantState, blocks: &[SearchBlock]) -> Result<f64, StageError> {
        let Some(block) = blocks.last() else {
            return Ok(f64::NAN);
        };
        self.prepare(state, block.index)?;
        self.score(block, &block_scales(state, block), state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evo() -> Evolution {
        Evolution {
            population: 15,
            samples: 10,
            cycles: 40,
            radius: 0.05,
        }
    }

    fn quadratic(s: &[f32]) -> Result<f64, StageError> {
        Ok(s.iter().map(|v| f64::from(v - 0.3).powi(2)).sum())
    }

    fn run(seed: u64) -> (Vec<f32>, f64, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let init = vec![0.1f32; 6];
        let init_loss = quadratic(&init).unwrap();
        let mut bests = Vec::new();
        let (s, l) = evolve(&evo(), &mut rng, init, init_loss, quadratic, |_, _, b| {
            bests.push(b)
        })
        .unwrap();
        (s, l, bests)
    }

    #[test]
    fn the_best_loss_never_increases_and_the_search_improves() {
        let (scales, loss, bests) = run(1);
        assert!(bests.windows(2).all(|w| w[1] <= w[0]), "{bests:?}");
        assert!(loss < quadratic(&[0.1; 6]).unwrap());
        assert!(scales.iter().all(|&s| s > 0.0));
    }

    #[test]
    fn same_seed_same_search() {
        assert_eq!(run(7), run(7));
        assert_ne!(run(7).0, run(8).0);
    }

    /// Calibration batches and their full-precision logits.
    type Scored = (Vec<Batch>, Vec<Vec<f32>>);

    /// A two-block ViT on 8×8 images, one batch of `n` synthetic images, its
    /// full-precision logits and its min-max state at 4 bits.
    fn two_block_vit(n: usize) -> (crate::model::Model, Vec<SearchBlock>, Scored, QuantState) {
        let spec = pipe_nn::ModelSpec {
            family: pipe_nn::Family::Vit {
                patch: 4,
                dim: 16,
                depth: 2,
                heads: 2,
                mlp_ratio: 2.0,
            },
            input: [1, 8, 8],
            classes: 10,
            dropout: 0.0,
            seed: 1,
        };
        let mut net = Network::build(&spec).expect("a valid ViT");
        let model = crate::model::Model::from_network(&mut net).expect("saves");
        let x: Vec<f32> = (0..n * 64).map(|i| (i * 37 % 101) as f32 / 101.0).collect();
        let y: Vec<u32> = (0..n as u32).map(|i| i % 10).collect();
        let images = crate::dataset::ImageSet {
            channels: 1,
            height: 8,
            width: 8,
            class_names: (0..10).map(|c| c.to_string()).collect(),
            x: x.clone(),
            y: y.clone(),
        };
        let opts = super::super::Options {
            bits: 4,
            act_bits: 8,
            per_channel: true,
            signed: true,
            bias_correction: false,
        };
        let batches = vec![Batch {
            x: Tensor::from_vec(&[n, 1, 8, 8], x),
            y,
        }];
        let targets = fp_outputs(&mut net, &batches);
        let blocks = search_blocks(&mut net, "test").expect("attention blocks");
        let state = calibrate(&mut net, &images, Method::MinMax, &opts).expect("calibrates");
        (model, blocks, (batches, targets), state)
    }

    /// CPT-V's fitness is global: the score of the first block's scales moves
    /// when only the second block's scales change. A block-local fitness (the
    /// searched block's own output, as CPT-V was first built here) scores the
    /// first block identically under both states (it never runs the second).
    #[test]
    fn the_fitness_of_a_block_depends_on_the_blocks_after_it() {
        let (model, blocks, (batches, targets), state) = two_block_vit(20);
        assert_eq!(blocks.len(), 2);
        let loss = Loss::InfoNce { temperature: 3.0 };
        let mut scorer =
            Scorer::new(&model, &batches, targets, loss, &state).expect("replicas build");
        let (first, second) = (&blocks[0], &blocks[1]);
        let mine = block_scales(&state, first);
        scorer.prepare(&state, first.index).expect("prepares");
        let before = scorer.score(first, &mine, &state).expect("scores");
        let mut changed = state.clone();
        let doubled: Vec<f32> = block_scales(&state, second)
            .iter()
            .map(|s| s * 2.0)
            .collect();
        set_block_scales(&mut changed, second, &doubled);
        scorer.prepare(&changed, first.index).expect("prepares");
        let after = scorer.score(first, &mine, &changed).expect("scores");
        assert!(
            (after - before).abs() > 1e-6 * before.abs(),
            "{before} vs {after}"
        );
    }
}
