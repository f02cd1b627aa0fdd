//! `dataset.split`, `dataset.sample`, `dataset.labeled`: subsets of a dataset by
//! seeded random choice. Split and labeled are stratified: each class is shuffled
//! and cut in the same proportion (rounded per class), so the parts keep the class
//! balance. The parts keep the input's task and class names; each part is
//! shuffled so contiguous batches mix classes.

use crate::artifact::Artifact;
use crate::data::size_metrics;
use crate::dataset::{Dataset, DatasetData, ImageView};
use crate::params::Seed;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use rand::seq::{index, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn run_split(input: &StageInput, _ctx: &StageContext) -> Result<StageOutput, StageError> {
    let data = input.dataset("data")?;
    let test = input.f64("test")?;
    let mut rng = ChaCha8Rng::seed_from_u64(Seed::read(input)?);
    if let DatasetData::AvSegments(set) = &data.data {
        return crate::data::av::split(data, set, test, &mut rng);
    }
    let set = data.image_view()?;
    let (test_idx, train_idx) = if input.bool("stratify")? {
        stratified(set, test, 0, &mut rng)
    } else {
        shuffled(set.len(), test, &mut rng)
    };
    require_nonempty("test", test, "test", &test_idx, "train", &train_idx)?;
    two_parts(data, ("train", train_idx), ("test", test_idx), "split")
}

pub fn run_sample(input: &StageInput, _ctx: &StageContext) -> Result<StageOutput, StageError> {
    let data = input.dataset("data")?;
    let n = input.usize("n")?;
    let set = data.image_view()?;
    if n == 0 || n > set.len() {
        return Err(StageError::Invalid(format!(
            "n must be 1..{} (the size of `{}`), got {n}",
            set.len(),
            data.name
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(Seed::read(input)?);
    let picked = index::sample(&mut rng, set.len(), n).into_vec();
    let part = subset(data, "sample", &picked)?;
    let metrics = size_metrics("", part.image_view()?);
    Ok(StageOutput::single(Artifact::Dataset(Arc::new(part))).with_metrics(&metrics))
}

pub fn run_labeled(input: &StageInput, _ctx: &StageContext) -> Result<StageOutput, StageError> {
    let data = input.dataset("data")?;
    let fraction = input.f64("fraction")?;
    let mut rng = ChaCha8Rng::seed_from_u64(Seed::read(input)?);
    let (labeled, unlabeled) = stratified(data.image_view()?, fraction, 1, &mut rng);
    require_nonempty(
        "fraction",
        fraction,
        "labeled",
        &labeled,
        "unlabeled",
        &unlabeled,
    )?;
    two_parts(
        data,
        ("labeled", labeled),
        ("unlabeled", unlabeled),
        "labeled",
    )
}

/// Per class: shuffle, then the first round(count · fraction) indices (at least
/// `min_per_class` when the class has that many) go to the first part.
fn stratified(
    set: ImageView,
    fraction: f64,
    min_per_class: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<usize>, Vec<usize>) {
    let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &y) in set.labels().iter().enumerate() {
        by_class.entry(y).or_default().push(i);
    }
    let (mut first, mut rest) = (Vec::new(), Vec::new());
    for members in by_class.values_mut() {
        members.shuffle(rng);
        let take = ((members.len() as f64 * fraction).round() as usize)
            .max(min_per_class)
            .min(members.len());
        first.extend_from_slice(&members[..take]);
        rest.extend_from_slice(&members[take..]);
    }
    first.shuffle(rng);
    rest.shuffle(rng);
    (first, rest)
}

/// Shuffle everything, then the first round(n · fraction) indices form the first part.
fn shuffled(n: usize, fraction: f64, rng: &mut ChaCha8Rng) -> (Vec<usize>, Vec<usize>) {
    let mut all: Vec<usize> = (0..n).collect();
    all.shuffle(rng);
    let take = ((n as f64 * fraction).round() as usize).min(n);
    let rest = all.split_off(take);
    (all, rest)
}

fn require_nonempty(
    param: &str,
    value: f64,
    a_name: &str,
    a: &[usize],
    b_name: &str,
    b: &[usize],
) -> Result<(), StageError> {
    for (name, part) in [(a_name, a), (b_name, b)] {
        if part.is_empty() {
            return Err(StageError::Invalid(format!(
                "`{param}: {value}` leaves the {name} part empty; choose a value that gives both parts samples"
            )));
        }
    }
    Ok(())
}

/// The samples at `indices`, named after the input and the part.
fn subset(data: &Dataset, part: &str, indices: &[usize]) -> Result<Dataset, StageError> {
    Ok(Dataset {
        name: data.derived_name(part),
        task: data.task,
        data: data.image_view()?.select(indices),
    })
}

fn two_parts(
    data: &Dataset,
    (a_name, a): (&'static str, Vec<usize>),
    (b_name, b): (&'static str, Vec<usize>),
    stage: &str,
) -> Result<StageOutput, StageError> {
    let a_set = subset(data, &format!("{stage}.{a_name}"), &a)?;
    let b_set = subset(data, &format!("{stage}.{b_name}"), &b)?;
    let metrics = BTreeMap::from([
        (format!("{a_name}_samples"), a.len() as f64),
        (format!("{b_name}_samples"), b.len() as f64),
        ("classes".to_string(), data.image_view()?.classes() as f64),
    ]);
    Ok(StageOutput::record([
        (a_name, Artifact::Dataset(Arc::new(a_set))),
        (b_name, Artifact::Dataset(Arc::new(b_set))),
    ])
    .with_metrics(&metrics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{args, dataset as single, field, run_in, val};
    use crate::dataset::ImageSet;
    use crate::task_kinds;
    use crate::Input;
    use pipe_lang::value::Value;

    /// 100 one-pixel images whose pixel is the sample index, 3 unbalanced classes.
    fn toy() -> Input {
        let y: Vec<u32> = (0..100)
            .map(|i| {
                if i < 50 {
                    0
                } else if i < 80 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let set = ImageSet {
            channels: 1,
            height: 1,
            width: 1,
            class_names: vec!["a".into(), "b".into(), "c".into()],
            x: (0..100).map(|i| i as f32).collect(),
            y,
        };
        let d = Dataset {
            name: "toy".into(),
            task: task_kinds::CLASSIFY,
            data: DatasetData::Images(set),
        };
        Input::Artifact(Artifact::Dataset(Arc::new(d)))
    }

    fn ids(d: &Dataset) -> Vec<usize> {
        d.images()
            .expect("images")
            .x
            .iter()
            .map(|&v| v as usize)
            .collect()
    }

    fn split(test: f64, stratify: bool, seed: i64) -> Result<StageOutput, StageError> {
        let input = args(vec![
            ("data", toy()),
            ("test", val(Value::Float(test))),
            ("stratify", val(Value::Bool(stratify))),
            ("seed", val(Value::Int(seed))),
        ]);
        run_in(std::path::Path::new("."), run_split, &input)
    }

    fn class_counts(d: &Dataset) -> [usize; 3] {
        let mut c = [0; 3];
        d.images()
            .expect("images")
            .y
            .iter()
            .for_each(|&y| c[y as usize] += 1);
        c
    }

    #[test]
    fn stratified_split_keeps_balance_and_partitions() {
        let out = split(0.2, true, 7).expect("split");
        let (train, test) = (field(&out, "train"), field(&out, "test"));
        assert_eq!(class_counts(test), [10, 6, 4]);
        assert_eq!(class_counts(train), [40, 24, 16]);
        let mut all = [ids(train), ids(test)].concat();
        all.sort_unstable();
        assert_eq!(
            all,
            (0..100).collect::<Vec<_>>(),
            "a partition: no loss, no overlap"
        );
        assert_eq!(test.name, "toy/split.test");
        assert_eq!(out.metrics.get("test_samples"), Some(&20.0));
    }

    #[test]
    fn split_is_deterministic_for_a_seed() {
        let a = ids(field(&split(0.3, false, 1).expect("split"), "test"));
        assert_eq!(a, ids(field(&split(0.3, false, 1).expect("split"), "test")));
        assert_ne!(a, ids(field(&split(0.3, false, 2).expect("split"), "test")));
        assert_eq!(a.len(), 30);
    }

    #[test]
    fn split_refuses_an_empty_part() {
        let err = split(0.0, false, 0).unwrap_err().to_string();
        assert!(err.contains("leaves the test part empty"), "{err}");
        let err = split(1.0, true, 0).unwrap_err().to_string();
        assert!(err.contains("leaves the train part empty"), "{err}");
    }

    #[test]
    fn sample_draws_distinct_samples() {
        let run = |n: i64, seed: i64| {
            let input = args(vec![
                ("data", toy()),
                ("n", val(Value::Int(n))),
                ("seed", val(Value::Int(seed))),
            ]);
            run_in(std::path::Path::new("."), run_sample, &input)
        };
        let out = run(25, 3).expect("sample");
        let mut picked = ids(single(&out));
        assert_eq!(picked, ids(single(&run(25, 3).expect("sample"))));
        picked.sort_unstable();
        picked.dedup();
        assert_eq!(picked.len(), 25);
        let err = run(101, 0).unwrap_err().to_string();
        assert!(err.contains("n must be 1..100"), "{err}");
    }

    #[test]
    fn labeled_keeps_at_least_one_per_class() {
        let input = args(vec![
            ("data", toy()),
            ("fraction", val(Value::Float(0.01))),
            ("seed", val(Value::Int(0))),
        ]);
        let out = run_in(std::path::Path::new("."), run_labeled, &input).expect("labeled");
        assert_eq!(class_counts(field(&out, "labeled")), [1, 1, 1]);
        assert_eq!(class_counts(field(&out, "unlabeled")), [49, 29, 19]);
    }
}
