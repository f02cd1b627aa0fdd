//! SVG charts: well-formed, labelled axes, the Pareto front is the non-dominated set.

use pipe_sim::plot::{bar_svg, line_svg, pareto_front, pareto_svg, Chart, Series};

fn chart() -> Chart {
    Chart {
        title: "energy vs area".into(),
        x_label: "area (mm2)".into(),
        y_label: "energy (uJ)".into(),
    }
}

#[test]
fn pareto_front_keeps_only_non_dominated_points() {
    let pts = [
        (1.0, 5.0),
        (2.0, 3.0),
        (3.0, 4.0),
        (4.0, 1.0),
        (2.5, 3.0),
        (f64::NAN, 0.0),
    ];
    assert_eq!(pareto_front(&pts), vec![0, 1, 3]);
}

#[test]
fn charts_are_svg_with_axis_titles_and_escaped_text() {
    let svg = pareto_svg(
        &chart(),
        &[
            ("pe=int8 & rows<8".into(), 1.0, 2.0),
            ("b".into(), 2.0, 1.0),
            ("c".into(), 3.0, 3.0),
        ],
    );
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    assert!(svg.contains("area (mm2)") && svg.contains("energy (uJ)"));
    assert!(svg.contains("pe=int8 &amp; rows&lt;8"));
    assert_eq!(svg.matches("<circle").count(), 3);
    assert_eq!(
        svg.matches("fill=\"#d62728\"").count(),
        2,
        "two front points filled"
    );
    let line = line_svg(
        &chart(),
        &[
            Series {
                name: "a".into(),
                points: vec![(0.0, 1.0), (1.0, 2.0)],
            },
            Series {
                name: "b".into(),
                points: vec![(0.0, 3.0)],
            },
        ],
    );
    assert_eq!(line.matches("<polyline").count(), 2);
    let bars = bar_svg(&chart(), &[("sram".into(), 3.0), ("stt".into(), 1.0)]);
    assert_eq!(
        bars.matches("<rect").count(),
        1 + 2,
        "background + two bars"
    );
}

#[test]
fn degenerate_data_still_draws() {
    let svg = line_svg(
        &chart(),
        &[Series {
            name: "flat".into(),
            points: vec![(1.0, 5.0), (2.0, 5.0)],
        }],
    );
    assert!(!svg.contains("NaN") && !svg.contains("inf"));
    let empty = bar_svg(&chart(), &[]);
    assert!(empty.ends_with("</svg>") && !empty.contains("NaN"));
}
