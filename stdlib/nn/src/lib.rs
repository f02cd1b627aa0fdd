//! pipe-nn: the tensor backend. Runtime-shaped layers built from dfdx tensor ops,
//! models, optimizers and training loops. All dfdx use in the project stays here.
