//! Reads the cache summary of an NVSim report (github.com/SEAL-UCSB/NVSim, the
//! text `nvsim CONFIG.cfg` prints for `-DesignTarget: cache`) into a
//! [`CacheRow`]: hit latency, write latency, hit and write dynamic energy,
//! total leakage and total area, with NVSim's unit prefixes resolved.
//! It parses text it is given and never runs NVSim or reads a file itself.

use crate::error::SimError;
use crate::nvm::CacheRow;

const SUMMARY: &str = "CACHE DESIGN -- SUMMARY";

/// The cache-level figures of one NVSim report at process node `node_nm`
/// (NVSim does not print the node; it is the config's `-ProcessNode`).
pub fn parse_cache_report(source: &str, text: &str, node_nm: f64) -> Result<CacheRow, SimError> {
    let start = text.find(SUMMARY).ok_or_else(|| {
        SimError::table(
            source,
            format!("no `{SUMMARY}` section: give the output of an NVSim run with `-DesignTarget: cache` that finished"),
        )
    })?;
    let summary = &text[start..];
    let summary = summary
        .find("CACHE DATA ARRAY")
        .map_or(summary, |end| &summary[..end]);
    let field = |label: &str| value_after(source, summary, label);
    Ok(CacheRow {
        node_nm,
        capacity_mb: capacity_mb(source, text)?,
        read_ns: field("Cache Hit Latency")? * 1e9,
        write_ns: field("Cache Write Latency")? * 1e9,
        read_pj: field("Cache Hit Dynamic Energy")? * 1e12,
        write_pj: field("Cache Write Dynamic Energy")? * 1e12,
        leak_mw: field("Cache Total Leakage Power")? * 1e3,
        area_mm2: field("Total Area")? * 1e6,
    })
}

/// `Capacity   : 8MB` of the design specification, in MB.
fn capacity_mb(source: &str, text: &str) -> Result<f64, SimError> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Capacity"))
        .ok_or_else(|| SimError::table(source, "no `Capacity` line in the NVSim report"))?;
    let value = line.split(':').nth(1).unwrap_or("").trim();
    let (number, scale) = if let Some(v) = value.strip_suffix("MB") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix("KB") {
        (v, 1.0 / 1024.0)
    } else if let Some(v) = value.strip_suffix("GB") {
        (v, 1024.0)
    } else {
        return Err(SimError::table(
            source,
            format!("capacity `{value}` has no KB, MB or GB unit"),
        ));
    };
    number
        .trim()
        .parse::<f64>()
        .map(|n| n * scale)
        .map_err(|_| SimError::table(source, format!("capacity `{value}` is not a number")))
}

/// The SI value of `LABEL = <number><unit>` (the last `=` of the line, so
/// `Total Area = a x b = c` gives `c`).
fn value_after(source: &str, summary: &str, label: &str) -> Result<f64, SimError> {
    let line = summary
        .lines()
        .find(|l| l.contains(label))
        .ok_or_else(|| SimError::table(source, format!("no `{label}` in the cache summary")))?;
    let value = line.rsplit('=').next().unwrap_or("").trim();
    let value = value.split_whitespace().next().unwrap_or("");
    si_value(value).ok_or_else(|| {
        SimError::table(
            source,
            format!("`{label}` has value `{value}`, not a number with a unit"),
        )
    })
}

/// `1.781ns` → 1.781e-9, `2.438mm^2` → 2.438e-6 (m²), `0.487nJ` → 4.87e-10.
fn si_value(text: &str) -> Option<f64> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let (prefix, squared) = match unit.strip_suffix("m^2") {
        Some(p) => (p, true),
        None => (unit.strip_suffix(['s', 'J', 'W'])?, false),
    };
    let scale = match prefix {
        "" => 1.0,
        "m" => 1e-3,
        "u" => 1e-6,
        "n" => 1e-9,
        "p" => 1e-12,
        "f" => 1e-15,
        _ => return None,
    };
    Some(number * if squared { scale * scale } else { scale })
}

#[cfg(test)]
mod tests {
    use super::si_value;

    #[test]
    fn units_resolve_to_si() {
        let close = |text: &str, want: f64| {
            let got = si_value(text).unwrap();
            assert!((got - want).abs() <= 1e-12 * want.abs(), "{text}: {got}");
        };
        close("2.5ns", 2.5e-9);
        close("3ps", 3e-12);
        close("0.5nJ", 0.5e-9);
        close("7W", 7.0);
        close("2mm^2", 2e-6);
        close("4um^2", 4e-12);
        assert_eq!(si_value("5furlongs"), None);
    }
}
