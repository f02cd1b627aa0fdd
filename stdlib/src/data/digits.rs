//! `dataset.digits()`: the UCI optical digits (1,797 8×8 images, 10 classes),
//! embedded in the binary so the default dataset works on a machine that has only
//! the repository. Attribution: docs/data.md.

use super::{classify_set, digit_names, gunzip, single_output};
use crate::dataset::ImageSet;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};

/// Gzipped CSV: each row 64 pixel values (0..16) then the label.
const CSV_GZ: &[u8] = include_bytes!("../../data/optdigits-1797.csv.gz");
const SIDE: usize = 8;
const PIXELS: usize = SIDE * SIDE;
const CLASSES: usize = 10;
const MAX_PIXEL: f32 = 16.0;

pub fn run(_input: &StageInput, _ctx: &StageContext) -> Result<StageOutput, StageError> {
    single_output(classify_set("digits", load()?))
}

/// Decodes the embedded copy.
pub fn load() -> Result<ImageSet, StageError> {
    let bytes = gunzip(CSV_GZ).map_err(|e| embedded(format!("gzip: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|_| embedded("not UTF-8".into()))?;
    parse_csv(&text).map_err(embedded)
}

/// The embedded file is part of the build, so a failure here is a build bug.
fn embedded(message: String) -> StageError {
    StageError::Internal(format!("embedded digits data: {message}"))
}

fn parse_csv(text: &str) -> Result<ImageSet, String> {
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (line_no, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(format!(
                "line {}: {} fields, expected {}",
                line_no + 1,
                fields.len(),
                PIXELS + 1
            ));
        }
        for f in &fields[..PIXELS] {
            let v: f32 = f
                .trim()
                .parse()
                .map_err(|_| format!("line {}: bad pixel `{f}`", line_no + 1))?;
            x.push((v / MAX_PIXEL).clamp(0.0, 1.0));
        }
        let label: u32 = fields[PIXELS]
            .trim()
            .parse()
            .map_err(|_| format!("line {}: bad label", line_no + 1))?;
        if label as usize >= CLASSES {
            return Err(format!("line {}: label {label} out of range", line_no + 1));
        }
        y.push(label);
    }
    Ok(ImageSet {
        channels: 1,
        height: SIDE,
        width: SIDE,
        class_names: digit_names(CLASSES),
        x,
        y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_all_1797_images_in_unit_range() {
        let set = load().expect("embedded digits decode");
        assert_eq!(set.len(), 1797);
        assert_eq!(
            (set.channels, set.height, set.width, set.classes()),
            (1, 8, 8, 10)
        );
        assert_eq!(set.x.len(), 1797 * 64);
        assert!(set.x.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(
            set.x.contains(&1.0),
            "the brightest pixel value 16 maps to 1.0"
        );
        let mut per_class = [0usize; 10];
        set.y.iter().for_each(|&c| per_class[c as usize] += 1);
        assert!(
            per_class.iter().all(|&n| (170..=190).contains(&n)),
            "{per_class:?}"
        );
    }

    #[test]
    fn first_image_matches_the_csv() {
        let set = load().expect("embedded digits decode");
        // Row 1 of the CSV: 0,0,5,13,9,1,0,0, ... label 0.
        assert_eq!(&set.image(0)[..4], &[0.0, 0.0, 5.0 / 16.0, 13.0 / 16.0]);
        assert_eq!(set.y[0], 0);
    }

    #[test]
    fn malformed_rows_are_rejected() {
        assert!(parse_csv("1,2,3\n").unwrap_err().contains("fields"));
        let row = format!("{}11\n", "0,".repeat(64));
        assert!(parse_csv(&row).unwrap_err().contains("label 11"));
    }
}
