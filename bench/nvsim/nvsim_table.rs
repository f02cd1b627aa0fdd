//! Prints the rows of `stdlib/sim/data/nvm_default.csv` from the committed NVSim
//! reports in `bench/nvsim/out/` (`<tech>_<MB>MB.txt`), through the same parser
//! the parity test uses (`pipe_sim::nvsim`). Run from the repository root:
//! `cargo run -p pipe-sim --example nvsim_table`. Reads only bench/nvsim/out.

use pipe_sim::nvsim::parse_cache_report;
use std::path::Path;

/// NVSim's sample cache configuration's `-ProcessNode`.
const NODE_NM: f64 = 22.0;
const TECHS: [&str; 3] = ["sram", "stt", "sot"];
const CAPACITIES_MB: [u32; 5] = [4, 8, 16, 32, 64];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/nvsim/out");
    println!("tech,node_nm,capacity_mb,read_ns,write_ns,read_pj,write_pj,leak_mw,area_mm2");
    for tech in TECHS {
        for mb in CAPACITIES_MB {
            let name = format!("{tech}_{mb}MB.txt");
            let text = std::fs::read_to_string(out.join(&name))?;
            let r = parse_cache_report(&name, &text, NODE_NM)?;
            // Four decimals: NVSim prints three, in units up to 1000x finer.
            println!(
                "{tech},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4}",
                r.node_nm,
                r.capacity_mb,
                r.read_ns,
                r.write_ns,
                r.read_pj,
                r.write_pj,
                r.leak_mw,
                r.area_mm2
            );
        }
    }
    Ok(())
}
