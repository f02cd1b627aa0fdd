//! SupMAE's claims (docs/claims.md, "Training methods"; docs/training-methods.md)
//! on the UCI digits, measured over `HELD_OUT_SEEDS` through the stages and
//! settings of pipelines/supmae.pipe: the supervised branch learns, it trains the
//! readout fine-tuning uses, masking saves encoder FLOPs, and SupMAE against MAE
//! (at equal pre-training and at 30% of it) and against supervised training at
//! equal FLOPs. The runs are trained once and
//! shared by the tests (`results`).
//!
//! Setting: the 8×8 digits with patch 2 (16 tokens; MAE's 75 % masking leaves
//! 4 visible) and a 16-wide one-block decoder, so masking pays: a pre-training
//! step costs under half a full-token step. The branch's loss is weighted 1 at
//! temperature 1 (`CLS_WEIGHT`, `TEMPERATURE`): with the paper's 0.01 and 10 it
//! does not leave chance in the 460 steps this scale affords (the paper trains
//! 250k steps; its own log is at chance after its first epoch too), which the
//! `paper_weight` rows measure. Development used seed 0
//! (`PIPE_CLAIMS_DEV_SEEDS=0`): patch 1 (64 tokens; every model stayed near
//! chance, supervised 0.33 after 19 epochs), then patch 2 at the paper's
//! weights and at 1 / 1; no other setting was tried.
//!
//! Margins: each test asserts the direction and a margin of about half the gap
//! measured on the held-out seeds (printed with the table).

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); the dev profile of `cargo test --workspace` would train the same models
// several times slower and measure nothing new, so there the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, field, float, int, single, Spread, HELD_OUT_SEEDS};
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use std::sync::OnceLock;

/// Pre-training and fine-tuning epochs (pipelines/supmae.pipe's defaults).
const EPOCHS: i64 = 20;
const TUNE_EPOCHS: i64 = 10;
/// The paper's "30% of the compute": SupMAE pre-trained for 6 of MAE's 20 epochs.
const SHORT_EPOCHS: i64 = 6;
/// The branch's loss weight and temperature at this scale (the paper's: 0.01, 10).
const CLS_WEIGHT: f64 = 1.0;
const TEMPERATURE: f64 = 1.0;

/// Per seed: what each test reads.
#[derive(Default)]
struct Results {
    /// SupMAE's training accuracy on visible tokens, first and last epoch.
    branch_first: Vec<f64>,
    branch_last: Vec<f64>,
    /// The same last epoch with the paper's weight 0.01 and temperature 10.
    paper_weight_last: Vec<f64>,
    /// Test accuracy of the pre-trained models before any fine-tuning.
    supmae_zero_shot: Vec<f64>,
    mae_zero_shot: Vec<f64>,
    /// Pre-training step FLOPs / full-token training step FLOPs.
    flops_ratio: Vec<f64>,
    /// Test accuracy after fine-tuning, and of supervised training for as
    /// many FLOPs as pre-training plus fine-tuning (SupMAE's, the larger).
    supmae: Vec<f64>,
    /// SupMAE pre-trained `SHORT_EPOCHS`, then fine-tuned as the others.
    supmae_short: Vec<f64>,
    mae: Vec<f64>,
    supervised: Vec<f64>,
    supervised_epochs: Vec<f64>,
}

fn seeds() -> Vec<u64> {
    pipe_claims::seeds(&HELD_OUT_SEEDS)
}

/// One per-epoch curve of a pre-training run.
fn curve(out: &StageOutput, name: &str) -> Vec<f64> {
    let Outputs::Record(r) = &out.outputs else {
        panic!("pre-training gives a record");
    };
    match &r["metrics"] {
        Artifact::Metrics(m) => m.curves[name].clone(),
        _ => panic!("`metrics` is not metrics"),
    }
}

fn accuracy(model: Input, test: Input) -> f64 {
    call("eval.classify", vec![("model", model), ("data", test)]).metrics["accuracy"]
}

/// `branch`: SupMAE's weight and temperature; `None`: MAE.
fn pretrain(branch: Option<(f64, f64)>, vit: &Input, train: &Input, seed: i64) -> StageOutput {
    pretrain_for(EPOCHS, branch, vit, train, seed)
}

fn pretrain_for(
    epochs: i64,
    branch: Option<(f64, f64)>,
    vit: &Input,
    train: &Input,
    seed: i64,
) -> StageOutput {
    let mut args = match branch {
        Some((w, t)) => vec![("cls_weight", float(w)), ("temperature", float(t))],
        None => Vec::new(),
    };
    args.extend([
        ("model", vit.clone()),
        ("data", train.clone()),
        ("epochs", int(epochs)),
        ("lr", float(1e-3)),
        ("batch_size", int(64)),
        ("decoder_dim", int(16)),
        ("decoder_heads", int(2)),
        ("seed", int(seed)),
    ]);
    let stage = if branch.is_some() {
        "train.supmae"
    } else {
        "train.mae"
    };
    call(stage, args)
}

fn finetune(pre: &StageOutput, train: &Input, test: &Input, seed: i64) -> f64 {
    let tuned = call(
        "finetune.full",
        vec![
            ("model", field(pre, "model")),
            ("data", train.clone()),
            ("test", test.clone()),
            ("epochs", int(TUNE_EPOCHS)),
            ("lr", float(1e-3)),
            ("batch_size", int(64)),
            ("seed", int(seed)),
        ],
    );
    tuned.metrics["accuracy"]
}

fn measure_seed(r: &mut Results, seed: i64) {
    let digits = call("dataset.digits", vec![]);
    let parts = call(
        "dataset.split",
        vec![
            ("data", single(&digits)),
            ("test", float(0.2)),
            ("seed", int(seed)),
        ],
    );
    let (train, test) = (field(&parts, "train"), field(&parts, "test"));
    let vit = single(&call(
        "model.vit",
        vec![
            ("input", single(&digits)),
            ("patch", int(2)),
            ("dim", int(32)),
            ("depth", int(2)),
            ("heads", int(4)),
            ("seed", int(seed)),
        ],
    ));
    let sup = pretrain(Some((CLS_WEIGHT, TEMPERATURE)), &vit, &train, seed);
    let mae = pretrain(None, &vit, &train, seed);
    let paper = pretrain(Some((0.01, 10.0)), &vit, &train, seed);
    let paper_curve = curve(&paper, "train_accuracy");
    r.paper_weight_last.push(paper_curve[paper_curve.len() - 1]);
    let curve = curve(&sup, "train_accuracy");
    r.branch_first.push(curve[0]);
    r.branch_last.push(curve[curve.len() - 1]);
    r.supmae_zero_shot
        .push(accuracy(field(&sup, "model"), test.clone()));
    r.mae_zero_shot
        .push(accuracy(field(&mae, "model"), test.clone()));
    r.flops_ratio
        .push(sup.metrics["flops_per_sample"] / sup.metrics["full_token_flops_per_sample"]);
    r.supmae.push(finetune(&sup, &train, &test, seed));
    r.mae.push(finetune(&mae, &train, &test, seed));
    let short = pretrain_for(
        SHORT_EPOCHS,
        Some((CLS_WEIGHT, TEMPERATURE)),
        &vit,
        &train,
        seed,
    );
    r.supmae_short.push(finetune(&short, &train, &test, seed));
    let epochs = TUNE_EPOCHS + sup.metrics["equal_flops_supervised_epochs"].ceil() as i64;
    r.supervised_epochs.push(epochs as f64);
    let trained = call(
        "train.supervised",
        vec![
            ("model", vit),
            ("data", train),
            ("epochs", int(epochs)),
            ("lr", float(1e-3)),
            ("batch_size", int(64)),
            ("seed", int(seed)),
        ],
    );
    r.supervised.push(accuracy(field(&trained, "model"), test));
}

fn measure() -> Results {
    let mut r = Results::default();
    for seed in seeds() {
        measure_seed(&mut r, seed as i64);
    }
    print_table(&r);
    r
}

fn spread(values: &[f64]) -> Spread {
    Spread::of(values).expect("every run ran on every seed")
}

fn print_table(r: &Results) {
    println!(
        "SupMAE on the UCI digits (patch 2, 16 tokens), seeds {:?}",
        seeds()
    );
    println!("| measurement | per seed | mean [min, max] |\n| --- | --- | --- |");
    let rows: [(&str, &[f64]); 11] = [
        ("SupMAE branch train accuracy, epoch 1", &r.branch_first),
        ("SupMAE branch train accuracy, last epoch", &r.branch_last),
        (
            "the same at the paper's weight 0.01, temperature 10",
            &r.paper_weight_last,
        ),
        (
            "SupMAE pre-trained, test accuracy before fine-tuning",
            &r.supmae_zero_shot,
        ),
        (
            "MAE pre-trained, test accuracy before fine-tuning",
            &r.mae_zero_shot,
        ),
        (
            "pre-training / full-token FLOPs per sample-step",
            &r.flops_ratio,
        ),
        ("SupMAE + fine-tune, test accuracy", &r.supmae),
        (
            "SupMAE 6 epochs (30%) + fine-tune, test accuracy",
            &r.supmae_short,
        ),
        ("MAE + fine-tune, test accuracy", &r.mae),
        ("supervised at equal FLOPs, test accuracy", &r.supervised),
        ("supervised epochs (equal FLOPs)", &r.supervised_epochs),
    ];
    for (name, values) in rows {
        let cells: Vec<String> = values.iter().map(|v| format!("{v:.4}")).collect();
        println!("| {name} | {} | {} |", cells.join(" / "), spread(values));
    }
}

fn results() -> &'static Results {
    static RESULTS: OnceLock<Results> = OnceLock::new();
    RESULTS.get_or_init(measure)
}

fn gain(a: &[f64], b: &[f64]) -> Spread {
    let d: Vec<f64> = a.iter().zip(b).map(|(a, b)| a - b).collect();
    Spread::of(&d).expect("seeds")
}

fn assert_above(claim: &str, s: Spread, margin: f64) {
    println!("{claim}: {s} (asserted mean > {margin})");
    assert!(s.mean > margin, "{claim}: {s}, expected mean > {margin}");
}

/// The supervised branch learns: its training accuracy on the 4 visible
/// patches rises from its first epoch (0.10, chance) to its last (0.44), where
/// before this change it stayed at 0.11 (loss ln 10). Margins: half the
/// measured rise (0.34) and half the way from chance to the measured 0.44.
/// Checked to fail with the mechanism weakened: at the paper's weight 0.01 and
/// temperature 10 (the `paper_weight` row, measured in the same run) the last
/// epoch is 0.12 and both assertions fail.
#[test]
fn the_supervised_branch_learns() {
    let r = results();
    assert_above(
        "branch accuracy, last - first epoch",
        gain(&r.branch_last, &r.branch_first),
        0.17,
    );
    assert_above("branch accuracy, last epoch", spread(&r.branch_last), 0.27);
}

/// One readout: the branch trains the network's own classifier on CLS, the
/// readout fine-tuning and `eval.classify` use, so the pre-trained SupMAE model
/// classifies the test images (all tokens) before any fine-tuning, where MAE's
/// untouched classifier is at chance (measured: 0.61 vs 0.11; asserted: half
/// the gap). Checked to fail with the mechanism off: MAE's row is exactly a
/// SupMAE whose branch leaves the classifier untouched, as the separate head
/// before this change did, and it is at chance.
#[test]
fn supmae_pretraining_trains_the_readout_fine_tuning_uses() {
    let r = results();
    assert_above(
        "test accuracy before fine-tuning, SupMAE - MAE",
        gain(&r.supmae_zero_shot, &r.mae_zero_shot),
        0.25,
    );
}

/// Masking saves encoder FLOPs: a pre-training step (encoder on CLS and 4 of
/// 16 patches, a 16-wide one-block decoder on all 17 tokens) costs 0.48 of a
/// supervised step on all tokens. Checked to fail with the mechanism off:
/// with `mask_ratio: 0.25` (12 patches visible) the ratio is above 0.5
/// (`masking_saves_flops_at_the_pipeline_setting` in `pipe_nn::models::mae`
/// asserts both; that the encoder really runs on the visible tokens only is
/// `the_encoder_sees_only_cls_and_the_visible_patches` there).
#[test]
fn masking_saves_encoder_flops() {
    let r = results();
    let s = spread(&r.flops_ratio);
    println!("pre-training / full-token step FLOPs: {s} (asserted < 0.5)");
    assert!(s.max < 0.5, "{s}");
}

/// The paper: SupMAE matches MAE with a fraction of its compute. Here:
/// SupMAE + fine-tuning vs MAE + fine-tuning, same epochs (SupMAE's classifier
/// adds 0.2 % FLOPs): +20.3 points [11.1, 27.9]; asserted: half of it. Checked
/// to fail with the mechanism off: SupMAE without its branch is MAE, a gain of
/// 0; at the paper's weight (branch nearly inert) the development seed's gain
/// was +0.3 points.
#[test]
fn supmae_beats_mae_after_fine_tuning() {
    let r = results();
    assert_above(
        "fine-tuned test accuracy, SupMAE - MAE",
        gain(&r.supmae, &r.mae),
        0.1,
    );
}

/// The paper: SupMAE beats supervised training (83.6 top-1 against DeiT-B's 81.8).
/// Here: SupMAE + fine-tuning vs supervised training on all tokens for at
/// least as many FLOPs (20 epochs): +1.3 points [−0.8, +3.6], one seed of
/// three below, so "partly" (docs/claims.md); asserted: the mean, with half
/// its gap. Checked to fail with the mechanism off: MAE + fine-tuning (the
/// branch off) is 19 points below supervised.
#[test]
fn supmae_against_supervised_at_equal_flops() {
    let r = results();
    assert_above(
        "test accuracy at equal FLOPs, SupMAE - supervised",
        gain(&r.supmae, &r.supervised),
        0.0065,
    );
}

/// The paper's headline (README of enyac-group/supmae): SupMAE matches MAE with
/// 30% of its compute. Here: SupMAE pre-trained 6 epochs (30% of MAE's 20;
/// chosen from the claim, not tuned) and fine-tuned 10, against MAE pre-trained
/// 20 and fine-tuned 10: +7.1 points [+2.8, +13.1], run once on the held-out
/// seeds; asserted: half of it. Mechanism off: without its branch SupMAE is MAE
/// at 30% of the pre-training, which the full-length MAE row is expected to
/// beat (not run: the 20-epoch MAE is already 20 points below SupMAE at 20).
#[test]
fn supmae_with_30_percent_of_the_pretraining_beats_mae() {
    let r = results();
    assert_above(
        "fine-tuned test accuracy, SupMAE at 30% - MAE",
        gain(&r.supmae_short, &r.mae),
        0.035,
    );
}
