//! OVSeg mask prompt tuning on a frozen dual encoder (issue 12), on tiny
//! settings so the debug build stays fast: the token-mask rule and the prompt
//! replacement at each depth on a hand-built mask, the gradient of
//! `mask_embedding` against finite differences, that tuning changes only
//! `mask_embedding` (blake3 hashes of every encoder tensor before and after),
//! exact model files, the stages end to end, and the errors for wrong inputs.

mod ovseg_common;

use ovseg_common::{as_model, call, field, num, s, single, try_call, Input};
use pipe_nn::layer::{Layer, Mode, Tensor};
use pipe_nn::mask_prompt::{token_mask, MaskPrompt, PromptInit};
use pipe_nn::models::dual_encoder::{DualEncoder, DualEncoderSpec, Trainable};
use pipe_stdlib::model::Model;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// Crops 8×8, patch 4 (a 2×2 grid), three blocks, width 8.
fn spec() -> DualEncoderSpec {
    DualEncoderSpec {
        crop: 8,
        patch: 4,
        dim: 8,
        embed: 6,
        depth: 3,
        heads: 2,
        text_depth: 1,
        mlp_ratio: 2.0,
        words: ["<pad>", "a", "red", "blue"].map(String::from).to_vec(),
        context: 3,
        mean: [0.5; 3],
        std: [0.25; 3],
        seed: 7,
        mask_prompt: None,
    }
}

/// A region that touches only the top-left patch (one pixel) and the
/// bottom-right patch (one pixel): token mask [1, 0, 0, 1].
fn hand_mask() -> Vec<bool> {
    let mut mask = vec![false; 64];
    mask[0] = true; // y 0, x 0: patch (0, 0)
    mask[5 * 8 + 6] = true; // y 5, x 6: patch (1, 1)
    mask
}

fn image(seed: u64) -> Tensor {
    use rand::Rng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    Tensor::from_vec(
        &[1, 3, 8, 8],
        (0..192).map(|_| rng.gen_range(-1.0..1.0)).collect(),
    )
}

fn prompted() -> DualEncoder {
    let mut model = DualEncoder::build(&spec()).unwrap();
    model.add_mask_prompt(3, PromptInit::Normal, 1).unwrap();
    model
}

#[test]
fn token_mask_is_one_where_any_pixel_of_the_patch_is_inside() {
    assert_eq!(token_mask(&hand_mask(), 8, 4), vec![1.0, 0.0, 0.0, 1.0]);
    assert_eq!(token_mask(&[false; 64], 8, 4), vec![0.0; 4]);
    let mut edge = vec![false; 64];
    edge[3 * 8 + 4] = true; // y 3, x 4: the last row of patch (0, 1)
    assert_eq!(token_mask(&edge, 8, 4), vec![0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn replacement_swaps_masked_out_patch_tokens_and_keeps_cls() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let prompt = MaskPrompt::new(3, 4, 2, PromptInit::Normal, &mut rng);
    let mask = [1.0, 0.0, 0.0, 1.0];
    let e =
        |level: usize, t: usize| prompt.embedding.value.data[(level * 4 + t) * 2..][..2].to_vec();
    // Level 0: patch tokens only (no CLS yet).
    let mut x0 = Tensor::from_vec(&[1, 4, 2], (0..8).map(|v| v as f32 + 10.0).collect());
    prompt.replace(0, &mut x0, &mask, 0);
    assert_eq!(&x0.data[0..2], &[10.0, 11.0]);
    assert_eq!(x0.data[2..4].to_vec(), e(0, 1));
    assert_eq!(x0.data[4..6].to_vec(), e(0, 2));
    assert_eq!(&x0.data[6..8], &[16.0, 17.0]);
    // Levels 1 and 2: CLS first and untouched, patch tokens shifted by one.
    for level in 1..3 {
        let mut x = Tensor::from_vec(&[1, 5, 2], (0..10).map(|v| v as f32).collect());
        prompt.replace(level, &mut x, &mask, 1);
        assert_eq!(&x.data[0..2], &[0.0, 1.0], "CLS kept at level {level}");
        assert_eq!(&x.data[2..4], &[2.0, 3.0]);
        assert_eq!(x.data[4..6].to_vec(), e(level, 1));
        assert_eq!(x.data[6..8].to_vec(), e(level, 2));
        assert_eq!(&x.data[8..10], &[8.0, 9.0]);
    }
}

#[test]
fn the_tower_replaces_at_depth_zero_and_after_blocks_one_to_depth_minus_one() {
    let mut model = prompted();
    let tokens = token_mask(&hand_mask(), 8, 4);
    let out = |m: &mut DualEncoder, x: Tensor, prompts: bool| {
        m.image
            .forward(x, prompts.then_some(tokens.as_slice()), Mode::Eval)
            .data
    };
    let x = image(1);
    let base = out(&mut model, x.clone(), true);
    // Depth 0: the pixels of masked-out patches no longer reach the output.
    let mut changed = x.clone();
    for ch in 0..3 {
        for y in 0..4 {
            for xx in 4..8 {
                changed.data[ch * 64 + y * 8 + xx] += 0.7; // patch (0, 1), masked out
            }
        }
    }
    assert_eq!(out(&mut model, changed.clone(), true), base);
    assert_ne!(
        out(&mut model, changed, false),
        out(&mut model, x.clone(), false)
    );
    // Levels 0..2: a masked-out token's prompt matters, a kept token's does not.
    for level in 0..3 {
        for (token, matters) in [(0, false), (1, true), (2, true), (3, false)] {
            let mut m = prompted();
            let at = (level * 4 + token) * 8;
            let prompt = m.image.prompt.as_mut().unwrap();
            prompt.embedding.value.data[at..at + 8]
                .iter_mut()
                .for_each(|v| *v += 0.5);
            let moved = out(&mut m, x.clone(), true) != base;
            assert_eq!(moved, matters, "level {level} token {token}");
        }
    }
    // The same computation written out layer by layer.
    let p = model.image.prompt.as_ref().unwrap();
    let mut t = model.image.patch.forward(x.clone(), Mode::Eval);
    p.replace(0, &mut t, &tokens, 0);
    t = model.image.tokens.forward(t, Mode::Eval);
    for (i, block) in model.image.blocks.iter_mut().enumerate() {
        t = block.forward(t, Mode::Eval);
        if i < 2 {
            p.replace(i + 1, &mut t, &tokens, 1);
        }
    }
    assert_eq!(model.image.head.forward(t, Mode::Eval).data, base);
}

/// Σ w·y for the image embedding of `x` under the hand mask.
fn objective(model: &mut DualEncoder, x: &Tensor, w: &[f32]) -> f32 {
    let tokens = token_mask(&hand_mask(), 8, 4);
    let y = model.image.forward(x.clone(), Some(&tokens), Mode::Eval);
    y.data.iter().zip(w).map(|(a, b)| a * b).sum()
}

#[test]
fn only_mask_embedding_gets_gradients_and_they_match_finite_differences() {
    let mut model = prompted();
    model.set_trainable(Trainable {
        image: false,
        text: false,
        prompt: true,
        logit_scale: false,
    });
    let x = image(2);
    let w: Vec<f32> = (0..6).map(|i| (i as f32 - 2.5) * 0.4).collect();
    let tokens = token_mask(&hand_mask(), 8, 4);
    model.zero_grad();
    model.image.forward(x.clone(), Some(&tokens), Mode::Train);
    model.image.backward(Tensor::from_vec(&[1, 6], w.clone()));
    let mut with_grad = Vec::new();
    model.visit(&mut |name, p| {
        if p.grad.iter().any(|g| *g != 0.0) {
            with_grad.push(name.to_string());
        }
        assert_eq!(p.trainable(), name == "image.mask_embedding", "{name}");
    });
    assert_eq!(with_grad, vec!["image.mask_embedding".to_string()]);
    let grad = model.image.prompt.as_ref().unwrap().embedding.grad.clone();
    // Kept tokens (0 and 3) get no gradient at any level.
    for level in 0..3 {
        for token in [0, 3] {
            let at = (level * 4 + token) * 8;
            assert!(grad[at..at + 8].iter().all(|g| *g == 0.0));
        }
    }
    // Central differences on masked-out entries of every level.
    let h = 2e-3;
    for level in 0..3 {
        for entry in [8, 13, 17, 22] {
            let at = level * 32 + entry;
            let mut probe = |delta: f32| {
                let p = model.image.prompt.as_mut().unwrap();
                p.embedding.value.data[at] += delta;
                let v = objective(&mut model, &x, &w);
                model.image.prompt.as_mut().unwrap().embedding.value.data[at] -= delta;
                v
            };
            let numeric = (probe(h) - probe(-h)) / (2.0 * h);
            assert!(
                (numeric - grad[at]).abs() < 2e-2 * (1.0 + numeric.abs()),
                "level {level} entry {entry}: numeric {numeric} analytic {}",
                grad[at]
            );
        }
    }
}

#[test]
fn model_files_rebuild_both_towers_and_prompts_exactly() {
    let mut model = prompted();
    let saved = Model::from_dual_encoder(&mut model).unwrap();
    let files = saved.to_files().unwrap();
    let mut back = Model::from_files(&files).unwrap().dual_encoder().unwrap();
    let tokens = token_mask(&hand_mask(), 8, 4);
    let a = model.image.forward(image(4), Some(&tokens), Mode::Eval);
    let b = back.image.forward(image(4), Some(&tokens), Mode::Eval);
    assert_eq!(a.data, b.data);
    let ids = model.tokenize(&["a", "red"]).unwrap();
    assert_eq!(
        model.text.forward(&ids, 3, Mode::Eval).data,
        back.text.forward(&ids, 3, Mode::Eval).data
    );
    let arch = saved.descriptor().unwrap();
    assert!(arch
        .layers
        .iter()
        .any(|l| l.name.starts_with("image.block2")));
    assert!(arch
        .layers
        .iter()
        .any(|l| l.name.starts_with("text.block0")));
    assert!(arch.macs() > 0);
    let err = saved
        .network()
        .err()
        .expect("no single network")
        .to_string();
    assert!(err.contains("dual_encoder"), "{err}");
    let word = model.tokenize(&["green"]).unwrap_err().to_string();
    assert!(word.contains("`green`"), "{word}");
}

/// blake3 of every tensor of both towers (not the prompts).
fn encoder_hashes(model: &Model) -> BTreeMap<String, String> {
    let mut m = model.dual_encoder().unwrap();
    let mut out = BTreeMap::new();
    m.image.visit_encoder(&mut |name, p| {
        let bytes: Vec<u8> = p.value.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.insert(name.to_string(), blake3::hash(&bytes).to_hex().to_string());
    });
    m.text.visit("text", &mut |name, p| {
        let bytes: Vec<u8> = p.value.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.insert(name.to_string(), blake3::hash(&bytes).to_hex().to_string());
    });
    out.insert(
        "logit_scale".into(),
        blake3::hash(&m.logit_scale.value.data[0].to_le_bytes())
            .to_hex()
            .to_string(),
    );
    out
}

struct Tiny {
    train: Input,
    test: Input,
    model: Input,
}

fn tiny() -> Tiny {
    let regions = |part: &str| {
        single(&call(
            "dataset.regions",
            vec![
                ("n", num(12)),
                ("size", num(16)),
                ("seed", num(1)),
                ("part", s(part)),
            ],
        ))
    };
    let train = regions("train");
    let model = single(&call(
        "model.dual_encoder",
        vec![
            ("input", train.clone()),
            ("dim", num(16)),
            ("depth", num(2)),
            ("heads", num(2)),
            ("text_depth", num(1)),
            ("crop", num(8)),
        ],
    ));
    Tiny {
        train,
        test: regions("test"),
        model,
    }
}

#[test]
fn stages_run_end_to_end_and_mask_prompt_tuning_changes_only_the_prompts() {
    let t = tiny();
    let pre = call(
        "train.contrastive",
        vec![
            ("a", t.model.clone()),
            ("b", t.model.clone()),
            ("data", t.train.clone()),
            ("epochs", num(1)),
        ],
    );
    assert!(pre.metrics["train_loss"].is_finite());
    let base = field(&pre, "a");
    assert_ne!(
        as_model(&base),
        as_model(&t.model),
        "pre-training moved the towers"
    );
    let mpt = call(
        "finetune.mask_prompt",
        vec![
            ("model", base.clone()),
            ("data", t.train.clone()),
            ("depth", num(2)),
            ("epochs", num(2)),
        ],
    );
    let tuned = field(&mpt, "model");
    assert_eq!(
        encoder_hashes(as_model(&base)),
        encoder_hashes(as_model(&tuned))
    );
    let m = as_model(&tuned).dual_encoder().unwrap();
    let prompt = m.image.prompt.as_ref().unwrap();
    assert_eq!(prompt.embedding.value.shape, vec![2, 4, 16]);
    // Normal(0.02) init with the stage's seed, then trained: not the init any more.
    let mut rng = pipe_nn::init::Rng8::seed_from_u64(0);
    let init = MaskPrompt::new(2, 4, 16, PromptInit::Normal, &mut rng);
    assert_ne!(prompt.embedding.value.data, init.embedding.value.data);
    assert_eq!(mpt.metrics["trainable_params"], 2.0 * 4.0 * 16.0);
    let full = call(
        "finetune.full",
        vec![
            ("model", base.clone()),
            ("data", t.train.clone()),
            ("epochs", num(1)),
        ],
    );
    assert_ne!(
        encoder_hashes(as_model(&base)),
        encoder_hashes(as_model(&field(&full, "model")))
    );
    for model in [base, tuned] {
        let seg = call(
            "eval.segment",
            vec![("model", model), ("data", t.test.clone())],
        );
        for key in ["miou", "miou_seen", "miou_unseen", "accuracy"] {
            let v = seg.metrics[key];
            assert!((0.0..=1.0).contains(&v), "{key} = {v}");
        }
    }
}

#[test]
fn wrong_inputs_are_refused_with_the_fix() {
    let t = tiny();
    let deep = try_call(
        "finetune.mask_prompt",
        vec![
            ("model", t.model.clone()),
            ("data", t.train.clone()),
            ("depth", num(3)),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(deep.contains("depth 3 must be 1..2"), "{deep}");
    let other = single(&call(
        "model.dual_encoder",
        vec![
            ("input", t.train.clone()),
            ("dim", num(8)),
            ("heads", num(2)),
            ("crop", num(8)),
        ],
    ));
    let pair = try_call(
        "train.contrastive",
        vec![
            ("a", t.model.clone()),
            ("b", other),
            ("data", t.train.clone()),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(pair.contains("same `model.dual_encoder`"), "{pair}");
    let patch = try_call(
        "model.dual_encoder",
        vec![
            ("input", t.train.clone()),
            ("patch", num(3)),
            ("crop", num(8)),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(patch.contains("must divide the crop side"), "{patch}");
    let digits = single(&call("dataset.digits", vec![]));
    let kind = try_call(
        "eval.segment",
        vec![("model", t.model.clone()), ("data", digits)],
    )
    .unwrap_err()
    .to_string();
    assert!(kind.contains("dataset.regions"), "{kind}");
    let vit = single(&call(
        "model.mlp",
        vec![("input", single(&call("dataset.digits", vec![])))],
    ));
    let not_pair = try_call(
        "eval.segment",
        vec![("model", vit), ("data", t.test.clone())],
    )
    .unwrap_err()
    .to_string();
    assert!(
        not_pair.contains("not a `model.dual_encoder`"),
        "{not_pair}"
    );
    let vocab = try_call(
        "dataset.regions",
        vec![("vocab", num(40)), ("seed", num(0))],
    );
    assert!(vocab
        .unwrap_err()
        .to_string()
        .contains("`vocab` must be 2..30"));
}
