//! `report.*`: signatures of the reporting stages, one function each: SVG plots
//! and CSV/Markdown tables of any sweep, record or metrics.

use super::common::*;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![pareto(), table(), line(), bar()]
}

fn data() -> ParamSig {
    ParamSig::required(
        "data",
        Type::Any,
        "What to report: a sweep, a record, metrics or a table.",
    )
}

fn title() -> ParamSig {
    text(
        "title",
        "",
        "Plot or table title; empty: derived from the data.",
    )
}

fn pareto() -> StageDef {
    def(
        sig(
            "report",
            "pareto",
            "Scatter plot of every point of a sweep on two metrics with the Pareto front \
             highlighted; axis labels carry units.",
            vec![
                data(),
                required_text("x", "Metric on the x axis, e.g. `area_mm2`."),
                required_text("y", "Metric on the y axis, e.g. `energy_uj`."),
                choice(
                    "x_goal",
                    "min",
                    &["min", "max"],
                    "Whether smaller or larger x is better.",
                ),
                choice(
                    "y_goal",
                    "min",
                    &["min", "max"],
                    "Whether smaller or larger y is better.",
                ),
                title(),
            ],
            Type::Plot,
        ),
        Some(crate::run::report::pareto),
    )
}

fn table() -> StageDef {
    def(
        sig(
            "report",
            "table",
            "A table of a sweep (one row per point, one column per metric), a record or \
             metrics; written as CSV and Markdown.",
            vec![
                data(),
                ParamSig::optional(
                    "columns",
                    Type::list(Type::Str),
                    pipe_lang::value::Value::List(vec![]),
                    "Metrics to show, in order; empty: all.",
                ),
                title(),
            ],
            Type::Table,
        ),
        Some(crate::run::report::table),
    )
}

fn line() -> StageDef {
    def(
        sig(
            "report",
            "line",
            "A line plot: one series per sweep point (or one for a single table/metrics), \
             `y` against `x` (e.g. a training curve's loss per epoch).",
            vec![
                data(),
                required_text("x", "Column or coordinate on the x axis, e.g. `epoch`."),
                required_text("y", "Column or metric on the y axis, e.g. `loss`."),
                title(),
            ],
            Type::Plot,
        ),
        Some(crate::run::report::line),
    )
}

fn bar() -> StageDef {
    def(
        sig(
            "report",
            "bar",
            "A bar chart of one metric per sweep point or record field.",
            vec![
                data(),
                required_text("y", "Metric shown by the bars, e.g. `accuracy`."),
                title(),
            ],
            Type::Plot,
        ),
        Some(crate::run::report::bar),
    )
}
