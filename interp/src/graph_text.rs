//! The stage graph of every binding as text (`pipe graph`): Graphviz DOT or a
//! Mermaid flowchart, edges labelled with the argument that reads the output.
//! Renders only: never runs, reads or prints anything.

use crate::graph::Graph;
use std::fmt::Write as _;

/// (input node, node, argument) for every edge of the nodes the bindings need.
fn edges(graph: &Graph, nodes: &[usize]) -> Vec<(usize, usize, String)> {
    let mut out = Vec::new();
    for &id in nodes {
        for (arg, value) in &graph.nodes[id].args {
            for input in value.nodes() {
                out.push((input, id, arg.clone()));
            }
        }
    }
    out
}

fn all_nodes(graph: &Graph) -> Vec<usize> {
    let roots = graph.roots(&[]).unwrap_or_default();
    graph.needed(&roots)
}

pub fn dot(graph: &Graph) -> String {
    let nodes = all_nodes(graph);
    let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out = String::from(
        "digraph pipe {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for &id in &nodes {
        let n = &graph.nodes[id];
        let _ = writeln!(
            out,
            "  n{id} [label=\"{}\\n{}\"];",
            esc(&n.name),
            n.stage_name()
        );
    }
    for (from, to, arg) in edges(graph, &nodes) {
        let _ = writeln!(out, "  n{from} -> n{to} [label=\"{}\"];", esc(&arg));
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(graph: &Graph) -> String {
    let nodes = all_nodes(graph);
    let esc = |s: &str| s.replace('"', "#quot;").replace('|', "#124;");
    let mut out = String::from("flowchart LR\n");
    for &id in &nodes {
        let n = &graph.nodes[id];
        let _ = writeln!(out, "  n{id}[\"{}<br/>{}\"]", esc(&n.name), n.stage_name());
    }
    for (from, to, arg) in edges(graph, &nodes) {
        let _ = writeln!(out, "  n{from} -->|{}| n{to}", esc(&arg));
    }
    out
}
