//! SVG charts for the report stages: scatter with a Pareto front, lines and
//! bars, with titled axes (labels carry units) and "nice" tick values. Written
//! by hand rather than with `plotters`: the output is a few hundred bytes of
//! deterministic text (stable content hashes), needs no font files, and adds no
//! dependency. Pure string building: no I/O.

use std::fmt::Write;

const W: f64 = 640.0;
const H: f64 = 420.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLORS: &[&str] = &[
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Titles of a chart; axis labels should name their unit, e.g. `area (mm2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
}

/// A named sequence of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Indices of the points not dominated by any other when both coordinates are
/// minimised (a point is dominated when another is no worse in both and better
/// in one). Sorted by x.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len())
        .filter(|&i| points[i].0.is_finite() && points[i].1.is_finite())
        .collect();
    order.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
    });
    let mut front = Vec::new();
    let mut best_y = f64::INFINITY;
    for i in order {
        if points[i].1 < best_y {
            best_y = points[i].1;
            front.push(i);
        }
    }
    front
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A step of 1, 2 or 5 times a power of ten giving about five ticks over `span`.
fn nice_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let fraction = raw / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Axis range covering `values`, widened to whole ticks; never empty.
fn axis(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        let pad = hi.abs().max(1.0) * 0.5;
        (lo, hi) = (lo - pad, hi + pad);
    }
    let step = nice_step(hi - lo);
    ((lo / step).floor() * step, (hi / step).ceil() * step, step)
}

fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    format!("{v:.decimals$}")
}

/// Maps data to pixels inside the plot area.
struct Frame {
    x: (f64, f64, f64),
    y: (f64, f64, f64),
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (W - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        H - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (H - TOP - BOTTOM)
    }
}

fn open(out: &mut String, chart: &Chart) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\
         <text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{}</text>",
        W / 2.0,
        escape(&chart.title)
    );
}

/// Axes, grid, ticks and axis titles; `x_ticks` false for a category axis.
fn axes(out: &mut String, chart: &Chart, f: &Frame, x_ticks: bool) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let mut v = f.y.0;
    while v <= f.y.1 + f.y.2 * 1e-9 {
        let y = f.py(v);
        let _ = write!(
            out,
            "<line x1=\"{x0}\" y1=\"{y:.1}\" x2=\"{x1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x0 - 6.0,
            y + 4.0,
            tick_label(v, f.y.2)
        );
        v += f.y.2;
    }
    if x_ticks {
        let mut v = f.x.0;
        while v <= f.x.1 + f.x.2 * 1e-9 {
            let x = f.px(v);
            let _ = write!(
                out,
                "<line x1=\"{x:.1}\" y1=\"{y0}\" x2=\"{x:.1}\" y2=\"{y1}\" stroke=\"#f0f0f0\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                y1 + 16.0,
                tick_label(v, f.x.2)
            );
            v += f.x.2;
        }
    }
    let _ = write!(
        out,
        "<line x1=\"{x0}\" y1=\"{y1}\" x2=\"{x1}\" y2=\"{y1}\" stroke=\"black\"/>\
         <line x1=\"{x0}\" y1=\"{y0}\" x2=\"{x0}\" y2=\"{y1}\" stroke=\"black\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
         <text transform=\"translate(18,{:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        H - 16.0,
        escape(&chart.x_label),
        (y0 + y1) / 2.0,
        escape(&chart.y_label)
    );
}

fn legend(out: &mut String, names: &[&str]) {
    if names.len() < 2 {
        return;
    }
    for (i, name) in names.iter().enumerate() {
        let y = TOP + 14.0 * i as f64 + 6.0;
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - RIGHT - 150.0,
            y - 9.0,
            COLORS[i % COLORS.len()],
            W - RIGHT - 135.0,
            y,
            escape(name)
        );
    }
}

/// Line chart of several series sharing axes.
pub fn line_svg(chart: &Chart, series: &[Series]) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let frame = Frame {
        x: axis(all().map(|p| p.0), false),
        y: axis(all().map(|p| p.1), false),
    };
    let mut out = String::new();
    open(&mut out, chart);
    axes(&mut out, chart, &frame, true);
    for (i, s) in series.iter().enumerate() {
        let path: Vec<String> = s
            .points
            .iter()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", frame.px(x), frame.py(y)))
            .collect();
        let _ = write!(
            out,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" points=\"{}\"/>",
            COLORS[i % COLORS.len()],
            path.join(" ")
        );
    }
    legend(
        &mut out,
        &series.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    );
    out.push_str("</svg>");
    out
}

/// Scatter of labelled points with the Pareto front of minimising both.
pub fn pareto_svg(chart: &Chart, points: &[(String, f64, f64)]) -> String {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.1, p.2)).collect();
    pareto_svg_with_front(chart, points, &pareto_front(&xy))
}

/// Scatter of labelled points; the points at `front` (indices, in drawing
/// order) are joined and filled.
pub fn pareto_svg_with_front(
    chart: &Chart,
    points: &[(String, f64, f64)],
    front: &[usize],
) -> String {
    let xy: Vec<(f64, f64)> = points.iter().map(|p| (p.1, p.2)).collect();
    let frame = Frame {
        x: axis(xy.iter().map(|p| p.0), false),
        y: axis(xy.iter().map(|p| p.1), false),
    };
    let mut out = String::new();
    open(&mut out, chart);
    axes(&mut out, chart, &frame, true);
    let path: Vec<String> = front
        .iter()
        .map(|&i| format!("{:.1},{:.1}", frame.px(xy[i].0), frame.py(xy[i].1)))
        .collect();
    let _ = write!(
        out,
        "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"{}\"/>",
        path.join(" ")
    );
    for (i, (label, x, y)) in points.iter().enumerate() {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let on_front = front.contains(&i);
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\" stroke=\"#1f77b4\"><title>{}</title></circle>",
            frame.px(*x),
            frame.py(*y),
            if on_front { "#d62728" } else { "white" },
            escape(label)
        );
    }
    out.push_str("</svg>");
    out
}

/// Bar chart, one bar per category, from zero.
pub fn bar_svg(chart: &Chart, bars: &[(String, f64)]) -> String {
    let n = bars.len().max(1) as f64;
    let frame = Frame {
        x: (0.0, n, 1.0),
        y: axis(bars.iter().map(|b| b.1), true),
    };
    let mut out = String::new();
    open(&mut out, chart);
    axes(&mut out, chart, &frame, false);
    let slot = (W - LEFT - RIGHT) / n;
    for (i, (label, value)) in bars.iter().enumerate() {
        let x = LEFT + slot * (i as f64 + 0.15);
        let (y0, y1) = (
            frame.py(0.0),
            frame.py(if value.is_finite() { *value } else { 0.0 }),
        );
        let _ = write!(
            out,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{}</title></rect>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0.min(y1),
            slot * 0.7,
            (y0 - y1).abs(),
            COLORS[0],
            escape(&format!("{label}: {value}")),
            x + slot * 0.35,
            H - BOTTOM + 16.0,
            escape(label)
        );
    }
    out.push_str("</svg>");
    out
}
