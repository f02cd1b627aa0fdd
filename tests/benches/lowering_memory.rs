//! Where a large sweep's lowered graph keeps its memory (issue 20: a no-op
//! rerun of 100,000 `sim.accelerator` points should stay under 500 MB, and
//! lowering alone took more). Loads a generated SIDE x SIDE sweep through
//! `frontend::load` (check, lowering, keys) under a counting allocator, then
//! frees the graph's parts one at a time and prints the bytes each held, per
//! node. Run with `cargo bench -p pipe-tests --bench lowering_memory [-- SIDE]`
//! (default 100: 10,000 points). It reports; it never fails on size.

use pipe_interp::digest_cache::DigestCache;
use pipe_interp::input_hash::InputHasher;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

/// The system allocator, counting the bytes live and the most ever live.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now =
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed) + layout.size() as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

fn sweep(side: usize) -> String {
    format!(
        "let net = sim.workload(name: \"mobilenet_v2\")\n\
         let hw = for rows in range(1, {n}), cols in range(1, {n}) =>\n    \
         sim.accelerator(model: net, pe: \"int8\", rows: rows, cols: cols, dataflow: \"os\",\n        \
         glb: 128KiB, spad: 64B, freq: 1GHz, bandwidth: 16.0)\n",
        n = side + 1
    )
}

fn main() {
    let side: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.pipe");
    std::fs::write(&path, sweep(side)).expect("write p.pipe");
    let inputs = InputHasher::detached(DigestCache::empty(Duration::ZERO));
    let before = live();
    let mut loaded =
        pipe_interp::frontend::load(&path, pipe_stdlib::Stdlib::get(), &[], false, &inputs)
            .expect("the generated sweep loads");
    let total = live() - before;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let nodes = loaded.graph.nodes.len();
    let mut rows: Vec<(&str, isize)> = Vec::new();
    let mut freed = |what: &'static str, f: &mut dyn FnMut()| {
        let at = live();
        f();
        rows.push((what, at - live()));
    };
    let graph = &mut loaded.graph;
    freed("canonical arguments (Node::canonical)", &mut || {
        for n in graph.nodes.iter_mut() {
            n.canonical = Err(String::new());
        }
    });
    freed("lowered arguments (Node::args)", &mut || {
        for n in graph.nodes.iter_mut() {
            n.args = Default::default();
        }
    });
    freed("names, aliases, files, inputs", &mut || {
        for n in graph.nodes.iter_mut() {
            n.name = String::new();
            n.aliases = Vec::new();
            n.file = String::new();
            n.inputs = Vec::new();
        }
    });
    freed("root bindings (the sweep's points)", &mut || {
        graph.bindings = Vec::new();
    });
    freed("the node array itself", &mut || {
        graph.nodes = Vec::new();
    });
    freed("the checked program", &mut || {
        loaded.program.modules = Vec::new();
        loaded.program.diagnostics = Vec::new();
    });
    println!("lowering a {side}x{side} sweep: {nodes} nodes");
    println!(
        "live after load {:.1} MB, peak during load {:.1} MB",
        mb(total),
        mb(peak)
    );
    println!("{:<42} {:>10} {:>10}", "part", "MB", "B/node");
    for (what, bytes) in &rows {
        println!(
            "{what:<42} {:>10.1} {:>10.0}",
            mb(*bytes),
            *bytes as f64 / nodes as f64
        );
    }
    let rest = total - rows.iter().map(|r| r.1).sum::<isize>();
    println!(
        "{:<42} {:>10.1} {:>10.0}",
        "everything else",
        mb(rest),
        rest as f64 / nodes as f64
    );
}

fn mb(bytes: isize) -> f64 {
    bytes as f64 / 1e6
}
