//! Node keys: the blake3 hash of (stage name, stage version, canonical arguments,
//! the keys of the inputs and which output of each is read). Canonical means only
//! what the stage sees counts: binding names, spelling (`1_000`, `1e3`), comments,
//! statement order and `path` strings do not; the content of a `path` input does
//! (its digest comes from `input_hash`). This module computes keys; it never reads
//! or writes the cache.

use crate::graph::{Lowered, NodeId};
use crate::input_hash::InputHasher;
use pipe_lang::catalog::StageSig;
use pipe_lang::value::Value;
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A content key (blake3, 32 bytes), shown as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    pub fn hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// The first 12 hex digits, for tables.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }

    pub fn parse(hex: &str) -> Option<Key> {
        blake3::Hash::from_hex(hex).ok().map(|h| Key(*h.as_bytes()))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.short())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// A call's canonical arguments, serialized once at lowering: the JSON object
/// (sorted keys at every level) its key hashes. Kept as text because a parsed
/// `serde_json` object costs about 20 times its serialized size (every object is
/// a B-tree node), which at 100,000 sweep points was most of a run's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical(Box<str>);

impl Canonical {
    /// A map serializes in key order, as a `Json::Object` of it would.
    pub fn new(args: BTreeMap<String, Json>) -> Canonical {
        let text = serde_json::to_string(&args).unwrap_or_default();
        Canonical(text.into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The arguments as JSON values, for `explain`'s diff and the manifest of a
    /// node that runs.
    pub fn args(&self) -> BTreeMap<String, Json> {
        match serde_json::from_str::<Json>(&self.0) {
            Ok(Json::Object(map)) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        }
    }
}

/// The key of a stage call from its canonical arguments.
pub fn key_of(stage: &str, version: u32, canonical: &Canonical) -> Key {
    let mut h = blake3::Hasher::new();
    // The number changes whenever an artifact's file layout does (2: datasets
    // name their payload kind), so entries written in an older layout never match.
    h.update(b"pipe-node/2\n");
    h.update(stage.as_bytes());
    h.update(b"\n");
    h.update(version.to_string().as_bytes());
    h.update(b"\n");
    // A BTreeMap of serde_json values serializes with sorted keys at every level
    // we build (we only build objects from BTreeMaps), so this is deterministic.
    h.update(canonical.as_str().as_bytes());
    Key(*h.finalize().as_bytes())
}

/// The canonical arguments of a call: what its key hashes and what `explain` diffs.
/// `key_of_node` gives the key of an input node, or why it has none.
pub fn canonical_args(
    sig: &StageSig,
    args: &BTreeMap<String, Lowered>,
    base_dir: &Path,
    inputs: &InputHasher,
    key_of_node: &dyn Fn(NodeId) -> Result<Key, String>,
) -> Result<Canonical, String> {
    let mut out = BTreeMap::new();
    for param in &sig.params {
        let Some(value) = args.get(param.name) else {
            continue;
        };
        let canon = if param.path {
            canonical_path_arg(value, base_dir, inputs, param.name)?
        } else {
            canonical(value, key_of_node)?
        };
        out.insert(param.name.to_string(), canon);
    }
    Ok(Canonical::new(out))
}

fn canonical_path_arg(
    value: &Lowered,
    base_dir: &Path,
    inputs: &InputHasher,
    param: &str,
) -> Result<Json, String> {
    match value {
        // An empty path is "not given" (optional override files): nothing to read.
        Lowered::Plain(Value::Str(p)) if p.is_empty() => Ok(json!({ "content": null })),
        Lowered::Plain(Value::Str(p)) => {
            let path = resolve(base_dir, p);
            Ok(json!({ "content": inputs.hash_path(&path)? }))
        }
        _ => Err(format!("argument `{param}` must be a path string")),
    }
}

/// A `path` argument relative to the directory of the `.pipe` file.
pub fn resolve(base_dir: &Path, p: &str) -> PathBuf {
    let path = Path::new(p);
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        base_dir.join(path)
    }
}

/// Canonical JSON of one lowered value. Lowering already coerced plain values
/// to their parameter's type, so `lr: 1` and `lr: 1.0` arrive here alike.
fn canonical(
    value: &Lowered,
    key_of_node: &dyn Fn(NodeId) -> Result<Key, String>,
) -> Result<Json, String> {
    Ok(match value {
        Lowered::Plain(v) => plain(v),
        Lowered::Output { node, field } => {
            json!({ "node": key_of_node(*node)?.hex(), "field": field })
        }
        Lowered::Record(fields) => {
            let mut map = serde_json::Map::new();
            for (k, v) in fields {
                map.insert(k.clone(), canonical(v, key_of_node)?);
            }
            json!({ "record": map })
        }
        Lowered::List(items) => {
            let items = items
                .iter()
                .map(|v| canonical(v, key_of_node))
                .collect::<Result<Vec<_>, _>>()?;
            json!({ "list": items })
        }
        Lowered::Sweep(points) => {
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                let coords: Vec<Json> =
                    p.coords.iter().map(|(k, v)| json!([k, plain(v)])).collect();
                out.push(json!({ "coords": coords, "value": canonical(&p.value, key_of_node)? }));
            }
            json!({ "sweep": out })
        }
    })
}

fn plain(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_sensitive() {
        let mut a = BTreeMap::new();
        a.insert("n".to_string(), json!({"t": "int", "v": 3}));
        let c = Canonical::new(a.clone());
        let k1 = key_of("dataset.sample", 1, &c);
        assert_eq!(k1, key_of("dataset.sample", 1, &c));
        assert_ne!(k1, key_of("dataset.sample", 2, &c));
        assert_ne!(k1, key_of("dataset.split", 1, &c));
        assert_eq!(c.args(), a);
        a.insert("n".to_string(), json!({"t": "int", "v": 4}));
        assert_ne!(k1, key_of("dataset.sample", 1, &Canonical::new(a)));
        assert_eq!(Key::parse(&k1.hex()), Some(k1));
    }
}
