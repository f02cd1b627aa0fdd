//! The one table of diagnostic codes: every code the lexer, parser, checker and
//! interpreter emit, with its constant and a one-line summary. docs/diagnostics.md
//! documents exactly these codes (a test in `tests/tests/diagnostic_codes.rs`
//! compares the two). E01xx syntax, E02xx names, E03xx types and units, E04xx
//! arguments and values, E05xx imports, W06xx warnings, E09xx the interpreter.
//! Never reuse a code. This module only names codes; it never builds a diagnostic.

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    pub code: &'static str,
    /// Who emits it: `lexer`, `parser`, `checker` or `interpreter`.
    pub phase: &'static str,
    pub summary: &'static str,
}

macro_rules! codes {
    ($($phase:literal { $($(#[$doc:meta])* $name:ident = $code:literal, $summary:literal;)* })*) => {
        $($($(#[$doc])* pub const $name: &str = $code;)*)*
        /// Every code, in numeric order (of the digits; E and W share one numbering).
        pub const ALL: &[CodeInfo] = &[
            $($(CodeInfo { code: $code, phase: $phase, summary: $summary },)*)*
        ];
    };
}

codes! {
    "lexer" {
        UNEXPECTED_CHAR = "E0101", "a character that starts no token";
        UNTERMINATED_STRING = "E0102", "a string not closed on its line";
        BAD_ESCAPE = "E0103", "an unknown or malformed escape";
        UNKNOWN_UNIT = "E0104", "a number suffix that is not a unit";
        INT_OUT_OF_RANGE = "E0105", "an integer outside 64 bits";
        FLOAT_OUT_OF_RANGE = "E0106", "a number that is not a finite float";
        NOT_A_SCALAR = "E0107", "a \\u{..} escape that is no Unicode scalar value";
    }
    "parser" {
        UNEXPECTED_TOKEN = "E0110", "any other syntax error";
        UNCLOSED_DELIMITER = "E0111", "an opening delimiter never closed";
        UNMATCHED_DELIMITER = "E0112", "a closer that matches no opener";
        TOO_DEEP = "E0113", "nesting deeper than the parser accepts";
        NO_STATEMENT = "E0114", "tokens before the first statement keyword";
    }
    "checker" {
        UNKNOWN_NAME = "E0201", "a name nothing defines";
        UNKNOWN_NAMESPACE = "E0202", "`x.y(...)` where `x` is no namespace";
        UNKNOWN_STAGE = "E0203", "a namespace without that stage";
        REDEFINITION = "E0204", "a name defined twice";
        USE_BEFORE_DEFINITION = "E0205", "a name used before its definition";
        SHADOWS_RESERVED = "E0206", "a binding named like a namespace or builtin";
        UNKNOWN_MODULE_MEMBER = "E0207", "`m.name` that the module does not define";
        NOT_A_VALUE = "E0208", "a namespace, builtin or stage used as a value";
        TYPE_MISMATCH = "E0301", "a value of the wrong type";
        TASK_MISMATCH = "E0302", "a dataset of a task the parameter does not take";
        UNIT_MISMATCH = "E0303", "a quantity of the wrong dimension";
        UNKNOWN_TYPE = "E0304", "an annotation naming no type";
        ANNOTATION_MISMATCH = "E0305", "a param value that does not match its annotation";
        MIXED_LIST = "E0306", "a list of elements of different types";
        UNKNOWN_FIELD = "E0307", "a record field that does not exist";
        NO_FIELDS = "E0308", "member access on a value without fields";
        NOT_CALLABLE = "E0309", "calling something that is not a stage or builtin";
        DUPLICATE_FIELD = "E0310", "a record literal repeating a field";
        UNKNOWN_ARGUMENT = "E0401", "a named argument the stage does not take";
        MISSING_ARGUMENT = "E0402", "required arguments not given";
        DUPLICATE_ARGUMENT = "E0403", "an argument given twice";
        POSITIONAL_AFTER_NAMED = "E0404", "a positional argument after a named one";
        TOO_MANY_ARGUMENTS = "E0405", "more positional arguments than parameters";
        OUT_OF_RANGE = "E0406", "a constant outside the parameter's range";
        NOT_A_CHOICE = "E0407", "a string not among the parameter's choices";
        EMPTY_SWEEP = "E0408", "a sweep over no values";
        /// Also emitted by `fold::FoldError::to_diagnostic`.
        BAD_BUILTIN = "E0409", "a builtin given values it cannot use";
        /// Also emitted by `fold::FoldError::to_diagnostic`.
        NOT_CONSTANT = "E0410", "a value that must be constant and is not";
        IMPORT_NOT_FOUND = "E0501", "an imported file that cannot be read";
        IMPORT_CYCLE = "E0502", "an import cycle";
        UNUSED_IMPORT = "W0601", "a `use` alias never referenced";
        UNUSED_PARAM = "W0602", "a root `param` never referenced";
        UNUSED_BINDER = "W0603", "a sweep binder the body never uses";
        UNUSED_LET = "W0604", "a root `let` never referenced";
    }
    "interpreter" {
        LOWER_FAILED = "E0900", "a checked program that cannot be lowered to a stage graph";
        NOT_IMPLEMENTED = "E0901", "a stage the run needs has no implementation yet";
    }
}

/// The row of `code`, if it is one.
pub fn info(code: &str) -> Option<&'static CodeInfo> {
    ALL.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_in_numeric_order() {
        for pair in ALL.windows(2) {
            assert!(pair[0].code[1..] < pair[1].code[1..], "{pair:?}");
        }
        assert_eq!(info("E0406").map(|c| c.phase), Some("checker"));
        assert_eq!(info("E9999"), None);
    }
}
