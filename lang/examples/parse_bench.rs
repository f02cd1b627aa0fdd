//! Parse and format throughput on a generated 10,000-line file shaped like the
//! docs/language.md example. Run: `cargo run --release -p pipe-lang --example parse_bench`.
//! A benchmark, not a test: it prints timings and asserts nothing about them.

use std::time::Instant;

fn source(lines: usize) -> String {
    let mut s = String::from(
        "use \"common.pipe\" as common\nparam seed: int = 0\nlet digits = dataset.digits()\n",
    );
    let mut i = 0;
    while s.lines().count() < lines {
        s.push_str(&format!(
            "## Run {i}.\nlet parts{i} = dataset.split(digits, test: 0.2, seed: seed)\n\
             let vit{i} = model.vit(input: digits, patch: 2, dim: 64, depth: 4, heads: 4) # small\n\
             let q{i} = quant.evolq(model: vit{i}, calib: dataset.sample(parts{i}.train, n: 256, seed: seed),\n    \
             bits: 4, loss: \"infonce\", population: 15, cycles: 50, seed: seed)\n\
             let hw{i} = for pe in [\"int16\", \"int8\"], rows in [8, 16, 32] =>\n    \
             sim.accelerator(model: q{i}.model, pe: pe, rows: rows, cols: rows, glb: 128KiB, freq: 1GHz)\n\n"
        ));
        i += 1;
    }
    s
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let text = source(10_000);
    let lines = text.lines().count();
    let parsed = pipe_lang::parse("bench.pipe", &text);
    println!(
        "{lines} lines, {} bytes, {} statements, {} diagnostics",
        text.len(),
        parsed.ast.stmts.len(),
        parsed.diagnostics.len()
    );
    let lex = best_of(20, || pipe_lang::lexer::lex("bench.pipe", &text));
    let parse = best_of(20, || pipe_lang::parse("bench.pipe", &text));
    let format = best_of(10, || pipe_lang::format("bench.pipe", &text));
    println!("lex    {lex:.2} ms (best of 20)");
    println!("parse  {parse:.2} ms (best of 20, lexing included)");
    println!("format {format:.2} ms (best of 10, parsing included)");
}
