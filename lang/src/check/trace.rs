//! What one statement's check read from outside the statement, and what it got:
//! the definitions, types and constant values of other top-level names, members
//! of imported modules, and the names offered as "did you mean". Incremental
//! checking records these while a statement is checked and reuses the
//! statement's results later only if every read gives the same answer again. It
//! never checks anything itself; the answers come from `Checker`'s accessors.

use super::module::Checker;
use crate::program::BindingKind;
use crate::span::Span;
use crate::types::Type;
use crate::value::Value;

/// One read and its answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Read {
    /// Whether a top-level name is defined, before the statement or not, and how.
    Def(String, Option<(bool, BindingKind)>),
    /// Where a top-level name is defined (only read for a diagnostic's label).
    DefSpan(String, Option<Span>),
    /// The type of an earlier top-level binding.
    BindingType(String, Option<Type>),
    /// The constant value of a name (`m.name` for a module member).
    Const(String, Option<Value>),
    /// `alias.field` of an imported module.
    Member(String, String, MemberAnswer),
    /// The top-level names an unknown name may be a misspelling of.
    Visible(Vec<String>),
}

/// What `alias.field` is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MemberAnswer {
    /// The import failed or is not checked (already reported).
    Unresolved,
    /// A param or let of the module at `target`.
    Found { target: usize, ty: Type },
    /// No such member; the closest name, if any.
    Missing { suggestion: Option<String> },
}

impl Checker<'_> {
    /// Whether every read still gives the answer it gave.
    pub(crate) fn still_holds(&self, reads: &[Read]) -> bool {
        reads.iter().all(|read| self.answers_alike(read))
    }

    fn answers_alike(&self, read: &Read) -> bool {
        match read {
            Read::Def(name, got) => self.def_answer(name) == *got,
            Read::DefSpan(name, got) => self.def_span_answer(name) == *got,
            Read::BindingType(name, got) => {
                self.out.bindings.get(name).map(|b| &b.ty) == got.as_ref()
            }
            Read::Const(name, got) => self.const_ref(name) == got.as_ref(),
            Read::Member(alias, field, got) => self.member_answer(alias, field) == *got,
            Read::Visible(got) => self.visible_answer() == *got,
        }
    }

    /// Records a read when the current statement is traced.
    pub(crate) fn note(&self, read: impl FnOnce() -> Read) {
        if let Some(trace) = &self.trace {
            trace.borrow_mut().push(read());
        }
    }
}
