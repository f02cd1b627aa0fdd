//! The types of the language (docs/language.md "Types"): scalars, one type per unit
//! dimension, lists, records, artifacts produced by stages, and sweeps.

use crate::units::Dim;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// What a dataset is for (`classify`, `detect`, ...), by the name its catalog
/// declares (`Catalog::task_kinds`). The front end only compares names: it never
/// lists the kinds, so a new kind is a change to the catalog alone. Serialized as
/// the bare name, which is what dataset manifests store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Task(&'static str);

impl Task {
    /// A kind named `name`; catalogs declare theirs as constants.
    pub const fn new(name: &'static str) -> Task {
        Task(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Type {
    Int,
    Float,
    Bool,
    Str,
    Quantity(Dim),
    List(Box<Type>),
    Record(BTreeMap<String, Type>),
    /// `None`: any task (a stage output whose task depends on its input, or a parameter that takes any).
    Dataset(Option<Task>),
    Model,
    Metrics,
    Table,
    Plot,
    /// A file handed to the user as is, written into the run directory
    /// (`model.export`'s safetensors).
    File,
    Sweep(Box<Type>),
    /// The type of a name in an imported module (`use ... as m`).
    Module,
    /// A parameter that accepts anything (e.g. `report.table`'s input).
    Any,
    /// Produced after an error was reported; accepted everywhere so one mistake
    /// does not cascade into many diagnostics.
    Error,
}

impl Type {
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }

    pub fn sweep(t: Type) -> Type {
        Type::Sweep(Box::new(t))
    }

    pub fn record<'a>(fields: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Record(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    /// Artifacts are produced by stages and have content hashes of their own.
    pub fn is_artifact(&self) -> bool {
        matches!(
            self,
            Type::Dataset(_) | Type::Model | Type::Metrics | Type::Table | Type::Plot | Type::File
        )
    }

    /// Parses a written type (`int`, `list[float]`, `bytes`); `None` when unknown.
    pub fn from_name(name: &str, arg: Option<Type>) -> Option<Type> {
        let t = match (name, arg) {
            ("list", Some(a)) => Type::list(a),
            ("sweep", Some(a)) => Type::sweep(a),
            (_, Some(_)) => return None,
            ("int", None) => Type::Int,
            ("float", None) => Type::Float,
            ("bool", None) => Type::Bool,
            ("str", None) => Type::Str,
            (other, None) => Type::Quantity(Dim::from_type_name(other)?),
        };
        Some(t)
    }

    /// The written type names, for "did you mean" on an unknown type.
    pub fn known_names() -> Vec<&'static str> {
        let mut v = vec!["int", "float", "bool", "str", "list"];
        v.extend(Dim::ALL.iter().map(|d| d.type_name()));
        v
    }

    /// Whether a value of type `self` may be passed where `expected` is wanted:
    /// an int where a float is wanted, any task where `Dataset(None)`, `Error`/`Any` anywhere.
    pub fn accepts(expected: &Type, got: &Type) -> bool {
        match (expected, got) {
            (Type::Any, _) | (_, Type::Any) | (Type::Error, _) | (_, Type::Error) => true,
            (Type::Float, Type::Int) => true,
            (Type::Dataset(None), Type::Dataset(_)) => true,
            (Type::Dataset(Some(_)), Type::Dataset(None)) => true,
            (Type::List(e), Type::List(g)) => Type::accepts(e, g),
            (Type::Sweep(e), Type::Sweep(g)) => Type::accepts(e, g),
            (Type::Record(e), Type::Record(g)) => e
                .iter()
                .all(|(k, et)| g.get(k).is_some_and(|gt| Type::accepts(et, gt))),
            _ => expected == got,
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Int => f.write_str("int"),
            Type::Float => f.write_str("float"),
            Type::Bool => f.write_str("bool"),
            Type::Str => f.write_str("str"),
            Type::Quantity(d) => f.write_str(d.type_name()),
            Type::List(t) => write!(f, "list[{t}]"),
            Type::Record(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Type::Dataset(None) => f.write_str("Dataset"),
            Type::Dataset(Some(t)) => write!(f, "Dataset[{}]", t.name()),
            Type::Model => f.write_str("Model"),
            Type::Metrics => f.write_str("Metrics"),
            Type::Table => f.write_str("Table"),
            Type::Plot => f.write_str("Plot"),
            Type::File => f.write_str("File"),
            Type::Sweep(t) => write!(f, "Sweep[{t}]"),
            Type::Module => f.write_str("module"),
            Type::Any => f.write_str("any"),
            Type::Error => f.write_str("<error>"),
        }
    }
}
