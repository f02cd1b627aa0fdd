//! The check every stage that runs a network on images makes first: the
//! dataset has the input shape and classes the model was built for. Owns the
//! message that tells the user the fix; never builds or changes a model.

use crate::dataset::ImageView;
use crate::stage::StageError;

/// The dataset must have the shape and classes the model was built for.
pub fn check_fits<'a>(
    data: impl Into<ImageView<'a>>,
    spec: &pipe_nn::ModelSpec,
) -> Result<(), StageError> {
    let data = data.into();
    let shape = data.shape();
    if shape != spec.input {
        return Err(StageError::Invalid(format!(
            "the model was built for {:?} images (C, H, W) but the dataset has {shape:?}; build the model with `input:` this dataset",
            spec.input
        )));
    }
    if data.classes() != spec.classes {
        return Err(StageError::Invalid(format!(
            "the model has {} classes but the dataset has {}; build the model with `input:` this dataset",
            spec.classes,
            data.classes()
        )));
    }
    if data.is_empty() {
        return Err(StageError::Invalid("the dataset is empty".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ImageSet;
    use pipe_nn::{Family, ModelSpec};

    fn images(channels: usize, side: usize, classes: usize) -> ImageSet {
        ImageSet {
            channels,
            height: side,
            width: side,
            class_names: (0..classes).map(|c| c.to_string()).collect(),
            x: vec![0.0; channels * side * side],
            y: vec![0],
        }
    }

    #[test]
    fn a_model_built_for_other_data_is_rejected_with_the_fix() {
        let spec = ModelSpec {
            family: Family::Mlp { hidden: vec![8] },
            input: [1, 8, 8],
            classes: 10,
            dropout: 0.0,
            seed: 0,
        };
        assert!(check_fits(&images(1, 8, 10), &spec).is_ok());
        let shape = check_fits(&images(1, 28, 10), &spec)
            .unwrap_err()
            .to_string();
        assert!(
            shape.contains("[1, 28, 28]") && shape.contains("input:"),
            "{shape}"
        );
        let classes = check_fits(&images(1, 8, 3), &spec).unwrap_err().to_string();
        assert!(
            classes.contains("10 classes") && classes.contains("3"),
            "{classes}"
        );
    }
}
