//! The one-page HTML report of a run (`report.html` in the run directory): the
//! stage graph with each node's status and why it reran, the node table, the
//! tables and the plots inline.
//!
//! The page is one self-contained file: no script, no stylesheet or font from
//! elsewhere, plots embedded as inline SVG, and a Content-Security-Policy that
//! forbids the browser any fetch, so opening a report never touches the network.
//! This module only renders a page from what it is given; it reads and writes
//! nothing and decides nothing about the run.

use pipe_stdlib::metrics::{Cell, Table};
use std::fmt::Write as _;

/// Above this many nodes the graph picture is left out (the node table stays):
/// a drawing of thousands of sweep points shows nothing a table does not.
pub const MAX_DRAWN_NODES: usize = 400;

/// One node of the page.
pub struct PageNode {
    pub name: String,
    pub stage: String,
    /// `ran`, `cached`, `failed` or `skipped`.
    pub status: &'static str,
    pub seconds: f64,
    pub key: String,
    /// Why it ran (or the error that failed it); empty for a cached node.
    pub why: String,
    pub metrics: Vec<(String, f64)>,
    /// Indices (into the page's nodes) of the nodes it reads.
    pub inputs: Vec<usize>,
}

/// Everything the page shows.
pub struct Page<'a> {
    pub file: &'a str,
    pub finished: &'a str,
    pub nodes: Vec<PageNode>,
    pub tables: Vec<(&'a str, &'a Table)>,
    /// Tables of the run not shown inline (only as files in the run directory).
    pub more_tables: usize,
    /// (stem, title, SVG document).
    pub plots: Vec<(&'a str, &'a str, &'a str)>,
    /// Files handed to the user (`model.export`), beside the page: (name, bytes).
    pub files: Vec<(String, usize)>,
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;\
text-align:left;vertical-align:top}th{background:#f3f3f3}.ran{background:#dff3df}\
.cached{background:#e8eef8}.failed{background:#f8dddd}.skipped{background:#f4f4f4}\
code{font-size:12px}figure{margin:1em 0}svg.graph text{font:11px sans-serif}";

/// The whole page.
pub fn render(page: &Page) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>Run of {file}</title><style>{STYLE}</style></head><body>\n\
         <h1>Run of <code>{file}</code></h1>\n<p>Finished {finished}. {counts}</p>\n",
        file = escape(page.file),
        finished = escape(page.finished),
        counts = counts(&page.nodes),
    );
    out.push_str("<h2>Stage graph</h2>\n");
    out.push_str(&graph_svg(&page.nodes));
    out.push_str(&node_table(&page.nodes));
    for (stem, table) in &page.tables {
        let _ = writeln!(out, "<h2 id=\"{0}\">{0}</h2>", escape(stem));
        out.push_str(&html_table(table));
    }
    if page.more_tables > 0 {
        let _ = writeln!(
            out,
            "<p>{} more tables are in this run's directory (a CSV and a Markdown file each).</p>",
            page.more_tables
        );
    }
    if !page.files.is_empty() {
        out.push_str("<h2>Files</h2>\n<ul>\n");
        for (name, bytes) in &page.files {
            let _ = writeln!(
                out,
                "<li><a href=\"{0}\">{0}</a> ({bytes} bytes)</li>",
                escape(name)
            );
        }
        out.push_str("</ul>\n");
    }
    for (stem, title, svg) in &page.plots {
        let _ = write!(
            out,
            "<h2 id=\"{}\">{}</h2>\n<figure>{}</figure>\n",
            escape(stem),
            escape(title),
            inline_svg(svg)
        );
    }
    out.push_str("</body></html>\n");
    out
}

fn counts(nodes: &[PageNode]) -> String {
    let n = |s: &str| nodes.iter().filter(|p| p.status == s).count();
    format!(
        "{} ran, {} cached, {} failed, {} skipped.",
        n("ran"),
        n("cached"),
        n("failed"),
        n("skipped")
    )
}

/// Each node's column: the length of the longest input chain below it. Nodes come
/// in an order where inputs precede their readers (the scheduler's), so one pass
/// suffices and nothing recurses.
fn columns(nodes: &[PageNode]) -> Vec<usize> {
    let mut col = vec![0usize; nodes.len()];
    for (i, node) in nodes.iter().enumerate() {
        col[i] = node
            .inputs
            .iter()
            .filter(|&&j| j < i)
            .map(|&j| col[j] + 1)
            .max()
            .unwrap_or(0);
    }
    col
}

const BOX_W: usize = 170;
const BOX_H: usize = 34;
const GAP_X: usize = 50;
const GAP_Y: usize = 14;

fn fill(status: &str) -> &'static str {
    match status {
        "ran" => "#7cc47c",
        "cached" => "#8fb3e0",
        "failed" => "#e07b7b",
        _ => "#cfcfcf",
    }
}

/// The graph as an inline SVG, left to right; each box is coloured by status and
/// its tooltip says why the node ran.
fn graph_svg(nodes: &[PageNode]) -> String {
    if nodes.is_empty() {
        return "<p>No nodes.</p>\n".into();
    }
    if nodes.len() > MAX_DRAWN_NODES {
        return format!(
            "<p>{} nodes: too many to draw (more than {MAX_DRAWN_NODES}); see the table \
             below, or <code>pipe graph</code>.</p>\n",
            nodes.len()
        );
    }
    let col = columns(nodes);
    let mut rows_used = vec![0usize; col.iter().max().map_or(1, |m| m + 1)];
    let mut pos = Vec::with_capacity(nodes.len());
    for &c in &col {
        let row = rows_used[c];
        rows_used[c] += 1;
        pos.push((c * (BOX_W + GAP_X) + 10, row * (BOX_H + GAP_Y) + 10));
    }
    let width = rows_used.len() * (BOX_W + GAP_X) + 20;
    let height = rows_used.iter().max().copied().unwrap_or(1) * (BOX_H + GAP_Y) + 20;
    let mut svg = format!(
        "<svg class=\"graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" role=\"img\" aria-label=\"stage graph\">\n"
    );
    for (i, node) in nodes.iter().enumerate() {
        let (x2, y2) = pos[i];
        for &j in node.inputs.iter().filter(|&&j| j < nodes.len()) {
            let (x1, y1) = pos[j];
            let _ = writeln!(
                svg,
                "<line x1=\"{}\" y1=\"{}\" x2=\"{x2}\" y2=\"{}\" stroke=\"#999\"/>",
                x1 + BOX_W,
                y1 + BOX_H / 2,
                y2 + BOX_H / 2
            );
        }
    }
    for (node, &(x, y)) in nodes.iter().zip(&pos) {
        let tip = if node.why.is_empty() {
            format!("{} ({}): {}", node.name, node.stage, node.status)
        } else {
            format!(
                "{} ({}): {}: {}",
                node.name, node.stage, node.status, node.why
            )
        };
        let _ = writeln!(
            svg,
            "<g><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" \
             rx=\"4\" fill=\"{}\" stroke=\"#555\"/><text x=\"{}\" y=\"{}\">{}</text>\
             <text x=\"{}\" y=\"{}\" fill=\"#333\">{} · {}</text></g>",
            escape(&tip),
            fill(node.status),
            x + 6,
            y + 14,
            escape(&truncate(&node.name, 26)),
            x + 6,
            y + 28,
            escape(&truncate(&node.stage, 18)),
            node.status,
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// Rows of the node tables of `report.html` and `report.md`: a 100,000-point
/// sweep made each page tens of megabytes that no one reads row by row, and
/// writing them was a fifth of a no-op rerun. Every node is in `summary.json`.
pub const MAX_TABLE_NODES: usize = 1000;

/// Which of `n` nodes the node tables show (indices, in order) and how many
/// they leave out: every node when there are at most [`MAX_TABLE_NODES`], else
/// the ones that did not come from the cache first (they are what a reader
/// looks for), then cached ones, up to the limit.
pub fn shown_nodes(cached: &[bool]) -> (Vec<usize>, usize) {
    if cached.len() <= MAX_TABLE_NODES {
        return ((0..cached.len()).collect(), 0);
    }
    let fresh = (0..cached.len()).filter(|&i| !cached[i]);
    let old = (0..cached.len()).filter(|&i| cached[i]);
    let mut shown: Vec<usize> = fresh.chain(old).take(MAX_TABLE_NODES).collect();
    shown.sort_unstable();
    (shown, cached.len() - MAX_TABLE_NODES)
}

fn node_table(nodes: &[PageNode]) -> String {
    let mut out = String::from(
        "<h2>Nodes</h2>\n<table><tr><th>node</th><th>stage</th><th>status</th>\
         <th>time (s)</th><th>key</th><th>why</th><th>metrics</th></tr>\n",
    );
    let cached: Vec<bool> = nodes.iter().map(|n| n.status == "cached").collect();
    let (shown, left_out) = shown_nodes(&cached);
    for n in shown.iter().map(|&i| &nodes[i]) {
        let metrics: Vec<String> = n
            .metrics
            .iter()
            .map(|(k, v)| format!("{}={v}", escape(k)))
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"{s}\"><td>{}</td><td>{}</td><td>{s}</td><td>{:.3}</td>\
             <td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            escape(&n.name),
            escape(&n.stage),
            n.seconds,
            escape(&n.key),
            escape(&n.why),
            metrics.join("<br>"),
            s = n.status,
        );
    }
    out.push_str("</table>\n");
    if left_out > 0 {
        let _ = writeln!(
            out,
            "<p>{left_out} more nodes (from the cache) are listed in <code>summary.json</code>.</p>"
        );
    }
    out
}

fn html_table(t: &Table) -> String {
    let mut out = String::from("<table><tr>");
    for c in &t.columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr>\n");
    for row in &t.rows {
        out.push_str("<tr>");
        for c in row {
            let text = match c {
                Cell::Num(v) => format!("{v}"),
                Cell::Text(s) => escape(s),
            };
            let _ = write!(out, "<td>{text}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// An SVG document as an element of the page: the XML prolog and doctype go (they
/// are not allowed inside HTML), the rest is the plot stage's own escaped markup.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(at) => &svg[at..],
        None => "",
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Text as HTML: the five characters that could open markup or end an attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_tables_show_every_node_up_to_the_limit_then_fresh_ones_first() {
        let few = vec![true; MAX_TABLE_NODES];
        assert_eq!(shown_nodes(&few), ((0..MAX_TABLE_NODES).collect(), 0));
        let mut many = vec![true; MAX_TABLE_NODES + 500];
        many[MAX_TABLE_NODES + 10] = false;
        many[MAX_TABLE_NODES + 400] = false;
        let (shown, left_out) = shown_nodes(&many);
        assert_eq!(left_out, 500);
        assert_eq!(shown.len(), MAX_TABLE_NODES);
        assert!(shown.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(
            shown.contains(&(MAX_TABLE_NODES + 10)) && shown.contains(&(MAX_TABLE_NODES + 400))
        );
        assert_eq!(
            shown[..MAX_TABLE_NODES - 2],
            (0..MAX_TABLE_NODES - 2).collect::<Vec<_>>()[..]
        );
    }

    fn node(name: &str, status: &'static str, inputs: Vec<usize>) -> PageNode {
        PageNode {
            name: name.into(),
            stage: "dataset.sample".into(),
            status,
            seconds: 0.5,
            key: "1a2b3c".into(),
            why: if status == "ran" {
                "param n 10 -> 20".into()
            } else {
                String::new()
            },
            metrics: vec![("samples".into(), 20.0)],
            inputs,
        }
    }

    fn page<'a>(nodes: Vec<PageNode>, table: &'a Table, svg: &'a str) -> Page<'a> {
        Page {
            file: "exp.pipe",
            finished: "2026-12-04 20:00:00 UTC",
            nodes,
            tables: vec![("res.table", table)],
            more_tables: 0,
            plots: vec![("front", "Pareto <front>", svg)],
            files: vec![("net.safetensors".into(), 1234)],
        }
    }

    #[test]
    fn page_has_graph_statuses_reasons_tables_and_inline_plots() {
        let table = Table {
            title: "t".into(),
            columns: vec!["pe".into(), "energy".into()],
            rows: vec![vec![Cell::Text("int8".into()), Cell::Num(1.5)]],
        };
        let svg = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><circle r=\"3\"/></svg>";
        let html = render(&page(
            vec![node("d", "cached", vec![]), node("s", "ran", vec![0])],
            &table,
            svg,
        ));
        assert!(html.contains("<svg class=\"graph\""), "graph drawn");
        assert_eq!(html.matches("<line ").count(), 1, "one edge d -> s");
        assert!(html.contains("s (dataset.sample): ran: param n 10 -&gt; 20"));
        assert!(html.contains("1 ran, 1 cached, 0 failed, 0 skipped."));
        assert!(html.contains("<td>int8</td><td>1.5</td>"));
        assert!(
            html.contains("<figure><svg xmlns"),
            "plot inline, prolog dropped"
        );
        assert!(!html.contains("<?xml"));
        assert!(html.contains("Pareto &lt;front&gt;"), "titles escaped");
        assert!(
            html.contains("<a href=\"net.safetensors\">net.safetensors</a> (1234 bytes)"),
            "exported files listed"
        );
    }

    #[test]
    fn page_fetches_nothing() {
        let table = Table {
            title: "t".into(),
            columns: vec!["a".into()],
            rows: vec![],
        };
        let html = render(&page(
            vec![node("x", "failed", vec![])],
            &table,
            "<svg></svg>",
        ));
        assert!(html.contains("default-src 'none'"), "CSP forbids fetches");
        for needle in ["<script", "<link", "src=", "@import", "url("] {
            assert!(!html.contains(needle), "page must not contain {needle}");
        }
    }

    #[test]
    fn names_cannot_inject_markup() {
        let table = Table {
            title: "t".into(),
            columns: vec!["<script>".into()],
            rows: vec![vec![Cell::Text("</td><script>alert(1)</script>".into())]],
        };
        let mut evil = node("<img src=x onerror=alert(1)>", "ran", vec![]);
        evil.why = "\"><script>".into();
        let html = render(&page(vec![evil], &table, "<svg></svg>"));
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
    }

    #[test]
    fn deep_chains_lay_out_without_recursion_and_big_graphs_are_not_drawn() {
        let chain: Vec<PageNode> = (0..MAX_DRAWN_NODES)
            .map(|i| {
                node(
                    &format!("n{i}"),
                    "cached",
                    i.checked_sub(1).into_iter().collect(),
                )
            })
            .collect();
        let cols = columns(&chain);
        assert_eq!(cols.last().copied(), Some(MAX_DRAWN_NODES - 1));
        let wide: Vec<PageNode> = (0..=MAX_DRAWN_NODES)
            .map(|i| node(&format!("p{i}"), "ran", vec![]))
            .collect();
        let svg = graph_svg(&wide);
        assert!(svg.contains("too many to draw"), "{svg}");
    }
}
