//! The one error type of the simulators. Every message names what was wrong and
//! where (file and row for tables), so the stage layer can pass it on unchanged.

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A problem in a data table (PPA, memory, NVM cell table, topology CSV):
    /// `file` is the file name (or `built-in` for a shipped table).
    #[error("{file}: {message}")]
    Table { file: String, message: String },
    /// Parameters that are each valid but make no sense for this workload or design.
    #[error("{0}")]
    Invalid(String),
}

impl SimError {
    pub fn table(source: &str, message: impl Into<String>) -> Self {
        SimError::Table {
            file: source.to_string(),
            message: message.into(),
        }
    }
}
