//! Plain values known before anything runs: literals, params, folded builtins
//! (`range`, `linspace`, `logspace`). Their canonical serialization is what node
//! keys hash, so it must not depend on how the user spelled a value.

use crate::types::Type;
use crate::units::Dim;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// In base units (bytes, seconds, hertz, ...).
    Quantity {
        value: f64,
        dim: Dim,
    },
    List(Vec<Value>),
    Record(BTreeMap<String, Value>),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(x) => Some(*x),
            Value::Quantity { value, .. } => Some(*value),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a parameter or param of type `ty` holds it: an int where a
    /// float is wanted becomes that float, through lists. This is the language's
    /// only implicit conversion, and the only place that performs it, so `lr: 1`
    /// and `lr: 1.0` reach a stage, a node key and a `--set` alike.
    pub fn coerced_to(&self, ty: &Type) -> Value {
        match (self, ty) {
            (Value::Int(i), Type::Float) => Value::Float(*i as f64),
            (Value::List(items), Type::List(t)) => {
                Value::List(items.iter().map(|x| x.coerced_to(t)).collect())
            }
            _ => self.clone(),
        }
    }

    /// Compact text for sweep point names (`pe=int8`) and tables.
    pub fn short(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Quantity { value, dim } => write!(f, "{value}{}", dim.base_unit()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Record(fields) => {
                f.write_str("{")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_int_where_a_float_is_wanted_becomes_a_float() {
        assert_eq!(Value::Int(1).coerced_to(&Type::Float), Value::Float(1.0));
        assert_eq!(
            Value::List(vec![Value::Int(2), Value::Float(0.5)])
                .coerced_to(&Type::list(Type::Float)),
            Value::List(vec![Value::Float(2.0), Value::Float(0.5)])
        );
        assert_eq!(Value::Int(3).coerced_to(&Type::Int), Value::Int(3));
        assert_eq!(Value::Int(3).coerced_to(&Type::Any), Value::Int(3));
    }
}
