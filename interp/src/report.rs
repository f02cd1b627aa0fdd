//! What a run tells people and tools: the terminal summary table, the JSON of
//! `--format json`, and the run directory `runs/<file stem>/<timestamp>/` with
//! `summary.json`, `report.md`, and every table (CSV + Markdown) and plot (SVG)
//! the nodes that ran and the reports the file asks for. Every file is written
//! whole or not at all (temp file + rename in the same directory), and no two
//! outputs share a file name. Old run directories beyond the retention setting
//! are removed (only names pipe gives them). This module formats and writes; it
//! decides nothing about what runs.

use crate::report_html::{self, Page, PageNode};
use crate::schedule::{NodeReport, Status};
use pipe_stdlib::metrics::{Cell, Table};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes the JSON of `pipe run --format json` (`{"nodes": [...], "ok": ...}`
/// and a newline) without building its text first.
pub fn write_summary_json(
    out: &mut dyn std::io::Write,
    reports: &[NodeReport],
    ok: bool,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &Summary::of(reports, ok)).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

/// The summary as a struct serialized straight to text: building it as a
/// `serde_json::Value` first cost a 10,000-node no-op rerun a third of its time
/// (one B-tree per node). Fields are declared in sorted order, the order the
/// `Value` form printed them, so the files are byte for byte what they were.
#[derive(serde::Serialize)]
struct Summary<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished: Option<f64>,
    nodes: Vec<NodeSummary<'a>>,
    ok: bool,
}

#[derive(serde::Serialize)]
struct NodeSummary<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    key: Option<String>,
    metrics: &'a std::collections::BTreeMap<String, f64>,
    name: &'a str,
    seconds: f64,
    stage: &'a str,
    status: &'static str,
}

impl<'a> Summary<'a> {
    fn of(reports: &'a [NodeReport], ok: bool) -> Summary<'a> {
        Summary {
            file: None,
            finished: None,
            nodes: reports.iter().map(NodeSummary::of).collect(),
            ok,
        }
    }
}

impl<'a> NodeSummary<'a> {
    fn of(r: &'a NodeReport) -> NodeSummary<'a> {
        NodeSummary {
            error: r.error.as_deref(),
            key: r.key.map(|k| k.hex()),
            metrics: &r.metrics,
            name: &r.name,
            seconds: r.seconds,
            stage: &r.stage,
            status: r.status.as_str(),
        }
    }
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
    /// File-name-safe stem, unique in the run (see `unique_stems`).
    pub stem: String,
    pub artifact: pipe_stdlib::Artifact,
}

/// Stems that the run directory's own files use.
const RESERVED_STEMS: [&str; 2] = ["summary", "report"];

/// File stems for `names` (node names, or `name.field`), one each, all distinct:
/// a name that `file_stem` maps to itself keeps it; a name it changes (`run A`
/// and `run:A` both map to `run_A`) or a reserved one gets `~` and 8 hex digits
/// of its hash when another name of the run maps to the same stem. `~` is never
/// produced by `file_stem`, so a suffixed stem cannot meet a plain one.
pub fn unique_stems(names: &[String]) -> Vec<String> {
    let plain: Vec<String> = names.iter().map(|n| file_stem(n)).collect();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for p in &plain {
        *count.entry(p.as_str()).or_default() += 1;
    }
    let mut taken = std::collections::HashSet::new();
    names
        .iter()
        .zip(&plain)
        .enumerate()
        .map(|(i, (name, stem))| {
            let clash = count[stem.as_str()] > 1 || RESERVED_STEMS.contains(&stem.as_str());
            let keeps = !clash || (name == stem && !RESERVED_STEMS.contains(&stem.as_str()));
            if keeps && taken.insert(stem.clone()) {
                return stem.clone();
            }
            let mut salt = 0u32;
            loop {
                let h = blake3::hash(format!("{name}\0{i}\0{salt}").as_bytes()).to_hex();
                let candidate = format!("{stem}~{}", &h[..8]);
                if taken.insert(candidate.clone()) {
                    return candidate;
                }
                salt += 1;
            }
        })
        .collect()
}

/// Writes one file of a run directory that is still being staged: nothing
/// outside sees it until the whole directory is renamed into place.
fn write_file(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::io::Write as _;
    // No fsync: a crash may lose the run directory, but never leaves a short
    // file in one (and a run writes thousands of these).
    let mut out = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    write(&mut out)?;
    out.flush()
}

/// Writes `runs/<stem>/<timestamp>/` beside the file; returns its path. The
/// directory is written as a hidden staging directory and renamed into place
/// whole, so a full disk or a crash never leaves a run directory with a
/// truncated or missing file; a temp file and a rename per file cost a
/// 100,000-point first run a third of its time.
pub fn write_run_dir(
    base_dir: &Path,
    file_stem: &str,
    file: &str,
    reports: &[NodeReport],
    context: &[NodeContext],
    ok: bool,
    exported: &[Exported],
) -> std::io::Result<PathBuf> {
    let keep = keep_runs_setting().map_err(std::io::Error::other)?;
    let parent = base_dir.join("runs").join(file_stem);
    let staging = staging_dir(&parent)?;
    let placed = write_run_files(&staging, file, reports, context, ok, exported)
        .and_then(|()| place_run_dir(&staging, &parent));
    match placed {
        Ok(dir) => {
            prune_runs(&parent, keep);
            Ok(dir)
        }
        Err(e) => {
            crate::cache_disk::remove_tree(&staging);
            Err(e)
        }
    }
}

fn write_run_files(
    dir: &Path,
    file: &str,
    reports: &[NodeReport],
    context: &[NodeContext],
    ok: bool,
    exported: &[Exported],
) -> std::io::Result<()> {
    let summary = Summary {
        file: Some(file),
        finished: Some(unix_secs()),
        ..Summary::of(reports, ok)
    };
    write_file(dir, "summary.json", |w| {
        serde_json::to_writer_pretty(w, &summary).map_err(std::io::Error::other)
    })?;
    let put = |name: &str, bytes: &[u8]| write_file(dir, name, |w| w.write_all(bytes));
    let mut md = format!("# Run of `{file}`\n\n");
    md.push_str(&markdown_summary(reports));
    let mut tables = 0usize;
    for e in exported {
        match &e.artifact {
            pipe_stdlib::Artifact::Table(t) => {
                put(&format!("{}.csv", e.stem), csv(t).as_bytes())?;
                let table_md = markdown_table(t);
                put(&format!("{}.md", e.stem), table_md.as_bytes())?;
                tables += 1;
                if tables <= INLINE_TABLES {
                    let _ = write!(md, "\n## {}\n\n{table_md}", e.stem);
                }
            }
            pipe_stdlib::Artifact::Plot(p) => {
                put(&format!("{}.svg", e.stem), p.svg.as_bytes())?;
                let _ = write!(md, "\n## {}\n\n![{}]({}.svg)\n", e.stem, p.title, e.stem);
            }
            pipe_stdlib::Artifact::File(f) => {
                let name = format!("{}.{}", e.stem, f.extension);
                put(&name, &f.bytes)?;
                let _ = write!(
                    md,
                    "\n## {}\n\n[{name}]({name}) ({} bytes)\n",
                    e.stem,
                    f.bytes.len()
                );
            }
            _ => {}
        }
    }
    if let Some(more) = tables.checked_sub(INLINE_TABLES).filter(|&n| n > 0) {
        let _ = write!(
            md,
            "\n{more} more tables are in this directory (a CSV and a Markdown file each).\n"
        );
    }
    put("report.md", md.as_bytes())?;
    put(
        "report.html",
        html_page(file, reports, context, exported).as_bytes(),
    )
}

/// Tables shown inline in `report.md` and `report.html`; a 100,000-point sweep
/// would otherwise put every point's table into both (gigabytes of page). The
/// rest are only files in the run directory, and the reports say how many.
const INLINE_TABLES: usize = 100;

/// What the HTML page shows of a node beyond its report: the nodes it reads (as
/// indices into the reports) and why it ran.
#[derive(Debug, Clone, Default)]
pub struct NodeContext {
    pub inputs: Vec<usize>,
    pub why: String,
}

fn html_page(
    file: &str,
    reports: &[NodeReport],
    context: &[NodeContext],
    exported: &[Exported],
) -> String {
    let nodes = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ctx = context.get(i).cloned().unwrap_or_default();
            PageNode {
                name: r.name.clone(),
                stage: r.stage.clone(),
                status: r.status.as_str(),
                seconds: r.seconds,
                key: r.key.map(|k| k.short()).unwrap_or_default(),
                why: r.error.clone().unwrap_or(ctx.why),
                metrics: r.metrics.iter().map(|(k, v)| (k.clone(), *v)).collect(),
                inputs: ctx.inputs,
            }
        })
        .collect();
    let mut tables = Vec::new();
    let mut more_tables = 0;
    let mut plots = Vec::new();
    let mut files = Vec::new();
    for e in exported {
        match &e.artifact {
            pipe_stdlib::Artifact::Table(_) if tables.len() == INLINE_TABLES => more_tables += 1,
            pipe_stdlib::Artifact::Table(t) => tables.push((e.stem.as_str(), t.as_ref())),
            pipe_stdlib::Artifact::Plot(p) => {
                plots.push((e.stem.as_str(), p.title.as_str(), p.svg.as_str()))
            }
            pipe_stdlib::Artifact::File(f) => {
                files.push((format!("{}.{}", e.stem, f.extension), f.bytes.len()))
            }
            _ => {}
        }
    }
    let finished = format!("{} UTC", timestamp());
    report_html::render(&Page {
        file,
        finished: &finished,
        nodes,
        tables,
        more_tables,
        plots,
        files,
    })
}

fn markdown_summary(reports: &[NodeReport]) -> String {
    let mut out = String::from(
        "| node | stage | status | time (s) | key | metrics |\n|---|---|---|---|---|---|\n",
    );
    let cached: Vec<bool> = reports.iter().map(|r| r.status == Status::Cached).collect();
    let (shown, left_out) = report_html::shown_nodes(&cached);
    for r in shown.iter().map(|&i| &reports[i]) {
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
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n{left_out} more nodes (from the cache) are listed in `summary.json`."
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

/// Run directories kept per file when `PIPE_KEEP_RUNS` is not set.
pub const DEFAULT_KEEP_RUNS: usize = 20;

/// How many run directories to keep per file: `PIPE_KEEP_RUNS` (0: all), or
/// the default; an unreadable value is an error.
pub fn keep_runs_setting() -> Result<usize, String> {
    match std::env::var("PIPE_KEEP_RUNS") {
        Err(_) => Ok(DEFAULT_KEEP_RUNS),
        Ok(v) => v.trim().parse().map_err(|_| {
            format!(
                "PIPE_KEEP_RUNS=`{v}` is not a count; write e.g. PIPE_KEEP_RUNS=20 (0 keeps all)"
            )
        }),
    }
}

/// Whether `name` is one `fresh_run_dir` gives: `YYYYMMDD-HHMMSS.mmm[-n]`.
pub fn is_run_dir_name(name: &str) -> bool {
    let b = name.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let stamp = b.len() >= 19
        && digits(0..8)
        && b[8] == b'-'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19);
    stamp && (b.len() == 19 || (b[19] == b'-' && b.len() > 20 && digits(20..b.len())))
}

/// Removes all but the newest `keep` run directories under `parent` (`runs/<stem>`);
/// `keep == 0` keeps all. Only names pipe gives run directories are touched,
/// and links are removed, never followed. Returns (directories, bytes) removed.
pub fn prune_runs(parent: &Path, keep: usize) -> (usize, u64) {
    if keep == 0 {
        return (0, 0);
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return (0, 0);
    };
    let mut runs: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| is_run_dir_name(n))
        .collect();
    runs.sort_by(|a, b| run_order(a).cmp(&run_order(b)));
    let excess = runs.len().saturating_sub(keep);
    let mut freed = 0;
    for name in &runs[..excess] {
        freed += crate::cache_disk::remove_tree(&parent.join(name));
    }
    remove_abandoned_staging(parent);
    (excess, freed)
}

/// A staging directory lives for the seconds a run takes to write its files;
/// one an hour old was left by a run that crashed or was killed meanwhile.
const ABANDONED_STAGING: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes staging directories (only pipe's `.staging-` names) that runs left.
fn remove_abandoned_staging(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let abandoned = e.file_name().to_string_lossy().starts_with(".staging-")
            && e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > ABANDONED_STAGING));
        if abandoned {
            crate::cache_disk::remove_tree(&e.path());
        }
    }
}

/// Sort key of a run directory name: its time stamp, then its same-millisecond suffix.
fn run_order(name: &str) -> (&str, u64) {
    let n = name.get(20..).and_then(|s| s.parse().ok()).unwrap_or(0);
    (&name[..19], n)
}

/// A hidden directory beside the runs (never a run directory's name, so
/// `prune_runs` and `pipe runs` skip it) to write a run into.
fn staging_dir(parent: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(parent)?;
    let stamp = timestamp();
    for n in 0..1000 {
        let dir = parent.join(format!(".staging-{}-{stamp}-{n}", std::process::id()));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "could not make a staging directory for the run",
    ))
}

/// Renames a staged run to `runs/x/20261125-211710.123`, made unique with a
/// suffix when two runs share a millisecond.
fn place_run_dir(staging: &Path, parent: &Path) -> std::io::Result<PathBuf> {
    let stamp = timestamp();
    for n in 0..1000 {
        let name = if n == 0 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let dir = parent.join(name);
        if std::fs::symlink_metadata(&dir).is_ok() {
            continue;
        }
        match std::fs::rename(staging, &dir) {
            Ok(()) => return Ok(dir),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty
                ) =>
            {
                continue
            }
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
    fn stems_are_unique_and_plain_when_they_can_be() {
        let names: Vec<String> = ["run A", "run_A", "run:A", "t", "report", "hw[pe=int8]"]
            .map(String::from)
            .to_vec();
        let stems = unique_stems(&names);
        assert_eq!(stems[1], "run_A");
        assert_eq!(stems[3], "t");
        assert_eq!(stems[5], "hw_pe=int8_");
        assert!(stems[0].starts_with("run_A~") && stems[2].starts_with("run_A~"));
        assert!(stems[4].starts_with("report~"));
        let distinct: std::collections::HashSet<_> = stems.iter().collect();
        assert_eq!(distinct.len(), names.len());
        assert_eq!(unique_stems(&["a".into(), "a".into()]).len(), 2);
        let twice = unique_stems(&["a".into(), "a".into()]);
        assert_ne!(twice[0], twice[1]);
    }

    #[test]
    fn run_dir_names_and_pruning() {
        assert!(is_run_dir_name("20261125-211710.123"));
        assert!(is_run_dir_name("20261125-211710.123-7"));
        assert!(!is_run_dir_name("20261125-211710.123-"));
        assert!(!is_run_dir_name("notes"));
        assert!(!is_run_dir_name("20261125-211710.12x"));
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "20260101-000000.000",
            "20260101-000000.000-2",
            "20260101-000000.000-10",
            "20260102-000000.000",
        ] {
            std::fs::create_dir(dir.path().join(n)).unwrap();
            std::fs::write(dir.path().join(n).join("summary.json"), b"{}").unwrap();
        }
        std::fs::create_dir(dir.path().join("mine")).unwrap();
        let staging = |name: &str, age: u64| {
            let path = dir.path().join(name);
            std::fs::create_dir(&path).unwrap();
            let then = SystemTime::now() - std::time::Duration::from_secs(age);
            std::fs::File::open(&path)
                .unwrap()
                .set_modified(then)
                .unwrap();
        };
        staging(".staging-1-20260101-000000.000-0", 2 * 3600);
        staging(".staging-2-20260102-000000.000-0", 60);
        assert_eq!(prune_runs(dir.path(), 2), (2, 4));
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".staging-2-20260102-000000.000-0",
                "20260101-000000.000-10",
                "20260102-000000.000",
                "mine"
            ],
            "a staging directory an hour old is removed, a recent one is not"
        );
    }

    #[test]
    fn a_run_directory_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs/p");
        let names = || -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(&runs)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        let plot = |stem: &str| Exported {
            stem: stem.into(),
            artifact: pipe_stdlib::Artifact::Plot(std::sync::Arc::new(
                pipe_stdlib::metrics::Plot {
                    title: "t".into(),
                    svg: "<svg/>".into(),
                },
            )),
        };
        // A stem the staging directory cannot hold fails the write midway.
        let failed = write_run_dir(
            dir.path(),
            "p",
            "p.pipe",
            &[],
            &[],
            true,
            &[plot("no/such")],
        );
        assert!(failed.is_err());
        assert!(names().is_empty(), "left behind: {:?}", names());
        let run = write_run_dir(dir.path(), "p", "p.pipe", &[], &[], true, &[plot("fig")]).unwrap();
        assert_eq!(
            names(),
            [run.file_name().unwrap().to_string_lossy().into_owned()]
        );
        let mut files: Vec<String> = std::fs::read_dir(&run)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["fig.svg", "report.html", "report.md", "summary.json"]
        );
    }

    #[test]
    fn a_large_sweep_inlines_a_bounded_number_of_tables() {
        let dir = tempfile::tempdir().unwrap();
        let table = std::sync::Arc::new(Table {
            title: "t".into(),
            columns: vec!["a".into()],
            rows: vec![vec![Cell::Num(1.0)]],
        });
        let exported: Vec<Exported> = (0..INLINE_TABLES + 2)
            .map(|i| Exported {
                stem: format!("hw{i}"),
                artifact: pipe_stdlib::Artifact::Table(table.clone()),
            })
            .collect();
        let run = write_run_dir(dir.path(), "p", "p.pipe", &[], &[], true, &exported).unwrap();
        let md = std::fs::read_to_string(run.join("report.md")).unwrap();
        assert_eq!(md.matches("\n## hw").count(), INLINE_TABLES);
        assert!(md.contains("2 more tables are in this directory"));
        let html = std::fs::read_to_string(run.join("report.html")).unwrap();
        assert_eq!(html.matches("<h2 id=\"hw").count(), INLINE_TABLES);
        assert!(html.contains("2 more tables are in this run's directory"));
        let last = format!("hw{}.csv", INLINE_TABLES + 1);
        assert!(run.join(last).is_file(), "every table is still a file");
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
