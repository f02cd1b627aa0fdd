//! Why a node would rerun (`pipe explain`, and each rerun node of a report):
//! whether it is cached and, when not, which argument, input or stage version
//! differs from the entry of the node's last run (found through the cache's
//! `names/` index). Reads the cache; never runs or writes anything but discarding
//! a damaged entry, and never prints.

use crate::cache::{Cache, Lookup, Manifest};
use crate::graph::{Graph, NodeId};
use crate::key;
use pipe_lang::value::Value;
use serde_json::Value as Json;
use std::collections::BTreeSet;

/// The nodes a name stands for: a node name or alias, else every node a binding reads.
pub fn nodes_named(graph: &Graph, name: &str) -> Result<Vec<NodeId>, String> {
    let exact: Vec<NodeId> = (0..graph.nodes.len())
        .filter(|&i| {
            graph.nodes[i].name == name || graph.nodes[i].aliases.iter().any(|a| a == name)
        })
        .collect();
    if !exact.is_empty() {
        return Ok(exact);
    }
    let roots = graph
        .roots(&[name.to_string()])
        .map_err(|e| e.to_string())?;
    if roots.is_empty() {
        return Err(format!("`{name}` is a plain value; no stage runs for it"));
    }
    Ok(roots)
}

/// The explanation for one node.
pub fn explain(graph: &Graph, cache: &Cache, id: NodeId) -> String {
    let node = &graph.nodes[id];
    let key = match &node.key {
        Ok(k) => *k,
        Err(msg) => return format!("`{}` cannot run: {msg}\n", node.name),
    };
    let stale = match cache.lookup(&key) {
        Lookup::Hit(m) => {
            return format!(
                "`{}` is cached (key {}, ran {:.2}s, {} ago)\n",
                node.name,
                key.short(),
                m.seconds,
                age(m.created)
            );
        }
        Lookup::Corrupt(reason) => Some(reason),
        Lookup::Miss => None,
    };
    let mut out = format!("`{}` would run (key {}):\n", node.name, key.short());
    if let Some(reason) = stale {
        out.push_str(&format!(
            "  - its cache entry was damaged ({reason}) and has been discarded\n"
        ));
    }
    let Some(last) = cache.last_key(&node.name) else {
        out.push_str("  - it has never run with this cache\n");
        return out;
    };
    let Some(prev) = cache.manifest(&last.key) else {
        out.push_str(&format!(
            "  - its last result (key {}) is no longer in the cache (removed by `pipe cache gc`?)\n",
            &last.key[..12.min(last.key.len())]
        ));
        return out;
    };
    for reason in differences(graph, cache, id, &prev) {
        out.push_str(&format!("  - {reason}\n"));
    }
    out
}

fn differences(graph: &Graph, cache: &Cache, id: NodeId, prev: &Manifest) -> Vec<String> {
    let node = &graph.nodes[id];
    let mut out = Vec::new();
    if prev.stage != node.stage_name() {
        out.push(format!(
            "the stage changed: `{}` -> `{}`",
            prev.stage,
            node.stage_name()
        ));
    }
    if prev.version != node.version {
        out.push(format!(
            "stage `{}` changed version: {} -> {}",
            node.stage_name(),
            prev.version,
            node.version
        ));
    }
    let now = match &node.canonical {
        Ok(a) => a.args(),
        Err(msg) => {
            out.push(msg.clone());
            return out;
        }
    };
    let names: BTreeSet<&String> = now.keys().chain(prev.args.keys()).collect();
    for arg in names {
        let (before, after) = (prev.args.get(arg), now.get(arg));
        if before == after {
            continue;
        }
        out.push(describe(graph, cache, arg, before, after));
    }
    if out.is_empty() {
        out.push("nothing it sees changed since its last run, but its result is not cached (removed, or the run was interrupted)".into());
    }
    out
}

fn describe(
    graph: &Graph,
    cache: &Cache,
    arg: &str,
    before: Option<&Json>,
    after: Option<&Json>,
) -> String {
    match (before, after) {
        (None, Some(a)) => format!("new argument `{arg}` = {}", show(graph, a)),
        (Some(b), None) => format!("argument `{arg}` is gone (was {})", show(graph, b)),
        (Some(_), Some(a)) if a.get("node").is_some() => {
            let input = node_of(graph, a)
                .map(|i| graph.nodes[i].name.clone())
                .unwrap_or_else(|| "?".into());
            let cached = a
                .get("node")
                .and_then(Json::as_str)
                .and_then(key::Key::parse)
                .is_some_and(|k| matches!(cache.lookup(&k), Lookup::Hit(_)));
            let state = if cached { "cached" } else { "would rerun too" };
            format!("input `{arg}` changed: `{input}` has a new key ({state}; `pipe explain FILE {input}` says why)")
        }
        (Some(_), Some(a)) if a.get("content").is_some() => {
            format!("the content of the input file of `{arg}` changed")
        }
        (Some(b), Some(a)) => format!(
            "argument `{arg}` changed: {} -> {}",
            show(graph, b),
            show(graph, a)
        ),
        (None, None) => String::new(),
    }
}

fn node_of(graph: &Graph, canon: &Json) -> Option<NodeId> {
    let k = canon.get("node")?.as_str()?;
    graph
        .nodes
        .iter()
        .position(|n| n.key.as_ref().is_ok_and(|nk| nk.hex() == k))
}

/// A canonical argument as a person reads it.
fn show(graph: &Graph, canon: &Json) -> String {
    if let Ok(v) = serde_json::from_value::<Value>(canon.clone()) {
        return v.to_string();
    }
    if let Some(id) = node_of(graph, canon) {
        return format!("the output of `{}`", graph.nodes[id].name);
    }
    canon.to_string()
}

fn age(created: u64) -> String {
    let secs = crate::cache::now_secs().saturating_sub(created);
    human_duration(secs)
}

pub fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
