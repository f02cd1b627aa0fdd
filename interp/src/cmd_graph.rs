//! `pipe graph FILE [--format dot|mermaid]`: the stage graph of every binding, as
//! Graphviz DOT or a Mermaid flowchart; edges are labelled with the argument
//! that reads the output. Prints only; runs nothing.

use crate::frontend;
use crate::graph::Graph;
use crate::input_hash::InputHasher;
use crate::stage_set::StageSet;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Dot,
    Mermaid,
}

#[derive(clap::Args)]
pub struct Args {
    /// The .pipe file.
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "dot")]
    pub format: Format,
    /// Override a param: `--set bits=3` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    pub sets: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    crate::cmd_run::exit_on_ctrl_c();
    run_with(args, pipe_stdlib::Stdlib::get())
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> anyhow::Result<ExitCode> {
    let color = std::io::stderr().is_terminal();
    let cache_dir = crate::cmd_run::cache_dir(&args.file, None);
    let inputs = InputHasher::new(&frontend::base_dir(&args.file), &cache_dir);
    let loaded = match frontend::load_or_report(&args.file, stages, &args.sets, color, &inputs) {
        Ok(l) => l,
        Err(code) => return Ok(code),
    };
    let text = match args.format {
        Format::Dot => dot(&loaded.graph),
        Format::Mermaid => mermaid(&loaded.graph),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

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
