//! What a run tells people and tools: the terminal summary table, the JSON of
//! `--format json`, and the run directory `runs/<file stem>/<timestamp>/` with
//! `summary.json`, `report.md`, and every table (CSV + Markdown) and plot (SVG)
//! the needed nodes produced. This module formats and writes; it decides nothing.

use crate::schedule::{NodeReport, Status};
use pipe_stdlib::metrics::{Cell, Table};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The JSON printed by `pipe run --format json`.
pub fn summary_json(reports: &[NodeReport], ok: bool) -> Json {
    let nodes: Vec<Json> = reports.iter().map(node_json).collect();
    json!({ "nodes": nodes, "ok": ok })
}

fn node_json(r: &NodeReport) -> Json {
    let mut node = json!({
        "name": r.name,
        "stage": r.stage,
        "key": r.key.map(|k| k.hex()),
        "status": r.status.as_str(),
        "seconds": r.seconds,
        "metrics": r.metrics,
    });
    if let (Some(error), Some(obj)) = (&r.error, node.as_object_mut()) {
        obj.insert("error".into(), json!(error));
    }
    node
}

/// The metrics shown in the table: the first few, `name=value`.
fn headline(r: &NodeReport) -> String {
    if let Some(e) = &r.error {
        return e.clone();
    }
    r.metrics
        .iter()
        .take(4)
        .map(|(k, v)| format!("{k}={}", short_number(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn short_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 {
        format!("{v:.0}")
    } else if v.abs() >= 0.01 && v.abs() < 1e6 {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

/// One node as one line (watch mode): status, name, time, headline metrics.
pub fn line(r: &NodeReport) -> String {
    format!(
        "{:<7} {}  {:.2}s  {}",
        r.status.as_str(),
        r.name,
        r.seconds,
        headline(r)
    )
    .trim_end()
    .to_string()
}

/// The terminal table: node, stage, status, time, headline metrics.
pub fn table(reports: &[NodeReport]) -> String {
    let rows: Vec<[String; 5]> = reports
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.stage.clone(),
                r.status.as_str().to_string(),
                format!("{:.2}s", r.seconds),
                headline(r),
            ]
        })
        .collect();
    let header = ["node", "stage", "status", "time", "metrics"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 5], out: &mut String| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<w$}  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header, &mut out);
    for row in &rows {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]], &mut out);
    }
    let count = |s: Status| reports.iter().filter(|r| r.status == s).count();
    let _ = writeln!(
        out,
        "{} ran, {} cached, {} failed, {} skipped",
        count(Status::Ran),
        count(Status::Cached),
        count(Status::Failed),
        count(Status::Skipped)
    );
    out
}

/// A table or plot a node produced, to copy into the run directory.
pub struct Exported {
    /// File-name-safe stem, e.g. `front` or `res.table`.
    pub stem: String,
    pub artifact: pipe_stdlib::Artifact,
}

/// Writes `runs/<stem>/<timestamp>/` beside the file; returns its path.
pub fn write_run_dir(
    base_dir: &Path,
    file_stem: &str,
    file: &str,
    reports: &[NodeReport],
    ok: bool,
    exported: &[Exported],
) -> std::io::Result<PathBuf> {
    let dir = fresh_run_dir(&base_dir.join("runs").join(file_stem))?;
    let mut summary = summary_json(reports, ok);
    if let Some(obj) = summary.as_object_mut() {
        obj.insert("file".into(), json!(file));
        obj.insert("finished".into(), json!(unix_secs()));
    }
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_vec_pretty(&summary)?,
    )?;
    let mut md = format!("# Run of `{file}`\n\n");
    md.push_str(&markdown_summary(reports));
    for e in exported {
        match &e.artifact {
            pipe_stdlib::Artifact::Table(t) => {
                std::fs::write(dir.join(format!("{}.csv", e.stem)), csv(t))?;
                let table_md = markdown_table(t);
                std::fs::write(dir.join(format!("{}.md", e.stem)), &table_md)?;
                let _ = write!(md, "\n## {}\n\n{table_md}", e.stem);
            }
            pipe_stdlib::Artifact::Plot(p) => {
                std::fs::write(dir.join(format!("{}.svg", e.stem)), &p.svg)?;
                let _ = write!(md, "\n## {}\n\n![{}]({}.svg)\n", e.stem, p.title, e.stem);
            }
            _ => {}
        }
    }
    std::fs::write(dir.join("report.md"), md)?;
    Ok(dir)
}

fn markdown_summary(reports: &[NodeReport]) -> String {
    let mut out = String::from(
        "| node | stage | status | time (s) | key | metrics |\n|---|---|---|---|---|---|\n",
    );
    for r in reports {
        let key = r.key.map(|k| k.short()).unwrap_or_default();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.3} | `{key}` | {} |",
            md_escape(&r.name),
            r.stage,
            r.status.as_str(),
            r.seconds,
            md_escape(&headline(r))
        );
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn cell_text(c: &Cell) -> String {
    match c {
        Cell::Num(v) => format!("{v}"),
        Cell::Text(s) => s.clone(),
    }
}

/// RFC 4180 CSV: fields with commas, quotes or newlines are quoted.
pub fn csv(t: &Table) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    out.push_str(
        &t.columns
            .iter()
            .map(|c| field(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    out.push('\n');
    for row in &t.rows {
        out.push_str(
            &row.iter()
                .map(|c| field(&cell_text(c)))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

pub fn markdown_table(t: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| {} |",
        t.columns
            .iter()
            .map(|c| md_escape(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|{}", "---|".repeat(t.columns.len()));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| md_escape(&cell_text(c))).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// `runs/x/20261125-211710.123`, made unique with a suffix when two runs share a millisecond.
fn fresh_run_dir(parent: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let stamp = timestamp();
    for n in 0..1000 {
        let name = if n == 0 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "could not make a fresh run directory",
    ))
}

fn unix_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// UTC `YYYYMMDD-HHMMSS.mmm`, sortable by name.
pub fn timestamp() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{day:02}-{:02}{:02}{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 -> (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A node name as a file name: `hw[pe=int8]` -> `hw_pe=int8_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '=' | ',') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_517), (2026, 3, 5));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let t = Table {
            title: "t".into(),
            columns: vec!["a".into(), "b,c".into()],
            rows: vec![vec![Cell::Num(1.5), Cell::Text("say \"hi\"".into())]],
        };
        assert_eq!(csv(&t), "a,\"b,c\"\n1.5,\"say \"\"hi\"\"\"\n");
        assert!(markdown_table(&t).starts_with("| a | b,c |\n|---|---|\n"));
    }
}
