//! pipe-nn: the tensor backend. Runtime-shaped layers with explicit backward
//! passes on f32 buffers (hot matrix products through `gemm`), models,
//! optimizers, schedules, the training loop and model files. It knows nothing
//! about stages, artifacts or the cache: `pipe-stdlib` adapts it. See
//! docs/tensor-backend.md for why the layers are our own.

pub mod activation;
pub mod allocator;
pub mod approx;
pub mod attention;
pub mod avx2;
pub mod bitmask;
pub mod clip;
pub mod conv;
pub mod dropout;
pub mod error;
pub mod finetune;
pub mod init;
pub mod layer;
pub mod linear;
pub mod loss;
pub mod mask_prompt;
pub mod matmul;
pub mod memory;
pub mod mobiletl;
pub mod models;
pub mod network;
pub mod norm;
pub mod optim;
pub mod param;
pub mod pool;
pub mod quant;
pub mod reshape;
pub mod row_sums;
pub mod schedule;
pub mod sequential;
pub mod slim;
pub mod spec;
pub mod tensor;
pub mod tokens;
pub mod torch_names;
pub mod train;
pub mod train_loop;

pub use error::NnError;
pub use layer::{Layer, Mode};
pub use network::{Block, Network};
pub use param::Param;
pub use spec::{Family, ModelSpec};
pub use tensor::Tensor;
