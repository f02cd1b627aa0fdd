//! `NnError`: what the backend reports for bad model configurations and model
//! files (never for its own bugs, which are panics with a clear message).

#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A model configuration that cannot be built, with what to change.
    #[error("{0}")]
    Config(String),
    /// A weights file that does not fit the configuration it came with.
    #[error("weights: {0}")]
    Weights(String),
}
