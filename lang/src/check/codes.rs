//! Every diagnostic code the checker emits, in one place so docs/diagnostics.md
//! ("Checker") and the code agree. E02xx names, E03xx types and units, E04xx
//! arguments and values, E05xx imports, W06xx warnings. Never reuse a code.

pub const UNKNOWN_NAME: &str = "E0201";
pub const UNKNOWN_NAMESPACE: &str = "E0202";
pub const UNKNOWN_STAGE: &str = "E0203";
pub const REDEFINITION: &str = "E0204";
pub const USE_BEFORE_DEFINITION: &str = "E0205";
pub const SHADOWS_RESERVED: &str = "E0206";
pub const UNKNOWN_MODULE_MEMBER: &str = "E0207";
pub const NOT_A_VALUE: &str = "E0208";

pub const TYPE_MISMATCH: &str = "E0301";
pub const TASK_MISMATCH: &str = "E0302";
pub const UNIT_MISMATCH: &str = "E0303";
pub const UNKNOWN_TYPE: &str = "E0304";
pub const ANNOTATION_MISMATCH: &str = "E0305";
pub const MIXED_LIST: &str = "E0306";
pub const UNKNOWN_FIELD: &str = "E0307";
pub const NO_FIELDS: &str = "E0308";
pub const NOT_CALLABLE: &str = "E0309";
pub const DUPLICATE_FIELD: &str = "E0310";

pub const UNKNOWN_ARGUMENT: &str = "E0401";
pub const MISSING_ARGUMENT: &str = "E0402";
pub const DUPLICATE_ARGUMENT: &str = "E0403";
pub const POSITIONAL_AFTER_NAMED: &str = "E0404";
pub const TOO_MANY_ARGUMENTS: &str = "E0405";
pub const OUT_OF_RANGE: &str = "E0406";
pub const NOT_A_CHOICE: &str = "E0407";
pub const EMPTY_SWEEP: &str = "E0408";
/// Also emitted by `fold::FoldError::to_diagnostic`.
pub const BAD_BUILTIN: &str = "E0409";
/// Also emitted by `fold::FoldError::to_diagnostic`.
pub const NOT_CONSTANT: &str = "E0410";

pub const IMPORT_NOT_FOUND: &str = "E0501";
pub const IMPORT_CYCLE: &str = "E0502";

pub const UNUSED_IMPORT: &str = "W0601";
pub const UNUSED_PARAM: &str = "W0602";
pub const UNUSED_BINDER: &str = "W0603";
pub const UNUSED_LET: &str = "W0604";
