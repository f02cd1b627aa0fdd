//! The `File` artifact: bytes a stage hands to the user as they are (the
//! PyTorch safetensors of `model.export`), written into every run directory
//! under the node's name with the file's extension.
//!
//! Owns its cache form (`file.json` naming the extension, `file.bin` the bytes).
//! It never interprets the bytes: the stage that made them vouches for them.

use crate::artifact::{file, json_bytes, json_file, Files};
use crate::StageError;

#[derive(Debug, Clone, PartialEq)]
pub struct OutputFile {
    /// Without the dot: `safetensors`. ASCII letters and digits only, so the
    /// run directory's file name is the node's stem plus this.
    pub extension: String,
    pub bytes: Vec<u8>,
}

impl OutputFile {
    pub fn to_files(&self) -> Result<Files, StageError> {
        Ok(Files::from([
            ("file.json".to_string(), json_bytes(&self.extension)?),
            ("file.bin".to_string(), self.bytes.clone()),
        ]))
    }

    pub fn from_files(files: &Files) -> Result<Self, StageError> {
        let extension: String = json_file(files, "file.json")?;
        if !valid_extension(&extension) {
            return Err(StageError::Corrupt(format!(
                "`file.json`: {extension:?} is not a file extension"
            )));
        }
        Ok(OutputFile {
            extension,
            bytes: file(files, "file.bin")?.to_vec(),
        })
    }
}

/// 1 to 16 ASCII letters or digits.
pub fn valid_extension(extension: &str) -> bool {
    (1..=16).contains(&extension.len()) && extension.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_a_path_as_extension() {
        let f = OutputFile {
            extension: "safetensors".into(),
            bytes: vec![0, 1, 2, 255],
        };
        let files = f.to_files().expect("files");
        assert_eq!(OutputFile::from_files(&files).expect("back"), f);
        let mut bad = files.clone();
        bad.insert("file.json".into(), br#""../x""#.to_vec());
        let err = OutputFile::from_files(&bad)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("not a file extension"), "{err}");
        bad.remove("file.bin");
        bad.insert("file.json".into(), br#""bin""#.to_vec());
        assert!(OutputFile::from_files(&bad).is_err(), "missing bytes");
    }
}
