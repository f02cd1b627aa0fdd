//! Implementations of the `report.*` stages: they collect numbers from any
//! sweep, list, record, metrics or table input and hand them to the SVG charts
//! of `pipe_sim::plot` or build a `Table`. Axis labels name units, derived from
//! the metric naming convention (`_mm2`, `_uj`, `_ms`, ...).

use crate::artifact::Artifact;
use crate::metrics::{Cell, Metrics, Plot, Table};
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use pipe_lang::value::Value;
use pipe_sim::plot::{self, Chart, Series};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One labelled item of the data: its sweep coordinates and its numbers.
struct Item {
    label: String,
    coords: BTreeMap<String, Value>,
    metrics: BTreeMap<String, f64>,
    tables: Vec<Arc<Table>>,
    curves: BTreeMap<String, Vec<f64>>,
}

impl Item {
    fn new(label: String, coords: BTreeMap<String, Value>) -> Self {
        Item {
            label,
            coords,
            metrics: BTreeMap::new(),
            tables: Vec::new(),
            curves: BTreeMap::new(),
        }
    }

    /// A number by name: a metric, else a numeric sweep coordinate.
    fn number(&self, name: &str) -> Option<f64> {
        self.metrics
            .get(name)
            .copied()
            .or_else(|| self.coords.get(name).and_then(Value::as_f64))
    }

    /// Takes the numbers of `input`. A record's fields are walked with an
    /// explicit stack (its nesting is the user's); a number in a field is
    /// named by the field's path, and a metric that two fields both report
    /// is named `field.metric` (`{minmax: eval.classify(..), omse:
    /// eval.classify(..)}` gives `minmax.accuracy` and `omse.accuracy`).
    fn absorb(&mut self, input: &Input) {
        let mut found: Vec<(String, &Metrics)> = Vec::new();
        let mut stack = vec![(String::new(), input)];
        while let Some((path, input)) = stack.pop() {
            match input {
                Input::Artifact(Artifact::Metrics(m)) => found.push((path, m)),
                Input::Artifact(Artifact::Table(t)) => self.tables.push(t.clone()),
                Input::Record(fields) => stack.extend(
                    fields
                        .iter()
                        .rev()
                        .map(|(name, v)| (field_path(&path, name), v)),
                ),
                Input::Value(v) => {
                    if let Some(x) = v.as_f64() {
                        let name = if path.is_empty() {
                            "value".into()
                        } else {
                            path
                        };
                        self.metrics.insert(name, x);
                    }
                }
                _ => {}
            }
        }
        // Values and curves live in separate maps, so a value and a curve of
        // the same name (a training run's final `rec_loss` and its curve) do
        // not clash; two values (or two curves) of one name do.
        let (mut values, mut curves): (BTreeMap<&str, usize>, BTreeMap<&str, usize>) =
            Default::default();
        for (_, m) in &found {
            for name in m.values.keys() {
                *values.entry(name.as_str()).or_default() += 1;
            }
            for name in m.curves.keys() {
                *curves.entry(name.as_str()).or_default() += 1;
            }
        }
        let name = |reporters: &BTreeMap<&str, usize>, path: &str, metric: &str| match reporters
            .get(metric)
        {
            Some(n) if *n > 1 && !path.is_empty() => format!("{path}.{metric}"),
            _ => metric.to_string(),
        };
        for (path, m) in &found {
            for (k, v) in &m.values {
                self.metrics.insert(name(&values, path, k), *v);
            }
            for (k, v) in &m.curves {
                self.curves.insert(name(&curves, path, k), v.clone());
            }
        }
    }
}

/// `outer.name`, or `name` at the top.
fn field_path(outer: &str, name: &str) -> String {
    if outer.is_empty() {
        name.to_string()
    } else {
        format!("{outer}.{name}")
    }
}

/// The items of `data`: one per sweep/list point or record field, or one for
/// a single artifact.
fn items(data: &Input) -> Vec<Item> {
    let mut out = Vec::new();
    match data {
        Input::Sweep(points) => {
            for p in points {
                let mut item = Item::new(p.label.clone(), p.coords.clone());
                item.absorb(&p.value);
                out.push(item);
            }
        }
        Input::Record(fields)
            if fields
                .values()
                .all(|f| matches!(f, Input::Record(_) | Input::Sweep(_))) =>
        {
            for (name, value) in fields {
                let mut item = Item::new(name.clone(), BTreeMap::new());
                item.absorb(value);
                out.push(item);
            }
        }
        other => {
            let mut item = Item::new(String::new(), BTreeMap::new());
            item.absorb(other);
            out.push(item);
        }
    }
    out
}

fn known_names(items: &[Item]) -> String {
    let mut names: Vec<&str> = items
        .iter()
        .flat_map(|i| i.metrics.keys().chain(i.coords.keys()).map(String::as_str))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn number(items: &[Item], item: &Item, name: &str) -> Result<f64, StageError> {
    item.number(name).ok_or_else(|| {
        let at = if item.label.is_empty() {
            String::new()
        } else {
            format!(" at point `{}`", item.label)
        };
        StageError::Invalid(format!(
            "no metric `{name}`{at}; available: {}",
            known_names(items)
        ))
    })
}

/// An axis label with the unit the metric's name implies.
pub fn axis_label(name: &str) -> String {
    const UNITS: &[(&str, &str)] = &[
        ("_mm2", "mm2"),
        ("_uj", "uJ"),
        ("_pj", "pJ"),
        ("_ms", "ms"),
        ("_us", "us"),
        ("_ns", "ns"),
        ("_s", "s"),
        ("_mb", "MB"),
        ("_mw", "mW"),
        ("_w", "W"),
        ("_c", "degC"),
        ("_ghz", "GHz"),
        ("_mhz", "MHz"),
        ("_bytes", "bytes"),
        ("cycles", "cycles"),
    ];
    let unit = match name {
        "perf_per_area" => Some("GOPS/mm2"),
        "edp" | "sram_edp" => Some("uJ·ms"),
        "utilization" => Some("fraction of PEs"),
        "macs" => Some("MACs"),
        _ => UNITS
            .iter()
            .find(|(suffix, _)| name.ends_with(suffix))
            .map(|(_, u)| *u),
    };
    match unit {
        Some(u) => format!("{name} ({u})"),
        None => name.to_string(),
    }
}

fn title_or(input: &StageInput, fallback: String) -> Result<String, StageError> {
    Ok(match input.str("title")? {
        "" => fallback,
        t => t.to_string(),
    })
}

fn plot_output(title: String, svg: String, points: usize) -> StageOutput {
    let metrics = BTreeMap::from([("points".to_string(), points as f64)]);
    StageOutput::single(Artifact::Plot(Arc::new(Plot { title, svg }))).with_metrics(&metrics)
}

/// `report.pareto(data, x, y, x_goal, y_goal)`.
pub fn pareto(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let items = items(input.get("data")?);
    let (x, y) = (input.str("x")?, input.str("y")?);
    let sign = |goal: &str| if goal == "max" { -1.0 } else { 1.0 };
    let (sx, sy) = (sign(input.str("x_goal")?), sign(input.str("y_goal")?));
    let mut points = Vec::with_capacity(items.len());
    for item in &items {
        points.push((
            item.label.clone(),
            number(&items, item, x)?,
            number(&items, item, y)?,
        ));
    }
    let signed: Vec<(f64, f64)> = points.iter().map(|p| (sx * p.1, sy * p.2)).collect();
    let front = plot::pareto_front(&signed);
    let title = title_or(
        input,
        format!(
            "{y} vs {x}: {} points, {} on the Pareto front",
            points.len(),
            front.len()
        ),
    )?;
    let chart = Chart {
        title: title.clone(),
        x_label: axis_label(x),
        y_label: axis_label(y),
    };
    let svg = plot::pareto_svg_with_front(&chart, &points, &front);
    let mut out = plot_output(title, svg, points.len());
    out.metrics
        .insert("front_points".into(), front.len() as f64);
    Ok(out)
}

/// Series of `y` against `x` from tables (one series per item), from metric
/// curves, or across the points of a sweep (one series per combination of its
/// categorical coordinates).
fn line_series(items: &[Item], x: &str, y: &str) -> Result<Vec<Series>, StageError> {
    let from_tables: Vec<Series> = items
        .iter()
        .flat_map(|item| item.tables.iter().map(move |t| (item, t)))
        .filter_map(|(item, t)| table_series(t, x, y, &item.label))
        .collect();
    if !from_tables.is_empty() {
        return Ok(from_tables);
    }
    let from_curves: Vec<Series> = items
        .iter()
        .filter_map(|item| {
            let ys = item.curves.get(y)?;
            let xs = item.curves.get(x);
            let points = ys
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    (
                        xs.and_then(|xs| xs.get(i).copied())
                            .unwrap_or(i as f64 + 1.0),
                        v,
                    )
                })
                .collect();
            Some(Series {
                name: item.label.clone(),
                points,
            })
        })
        .collect();
    if !from_curves.is_empty() {
        return Ok(from_curves);
    }
    let mut groups: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for item in items {
        // Categorical coordinates (strings, bools) name the series; numeric ones
        // are candidates for the x axis.
        let group: Vec<String> = item
            .coords
            .iter()
            .filter(|(k, v)| k.as_str() != x && matches!(v, Value::Str(_) | Value::Bool(_)))
            .map(|(k, v)| format!("{k}={}", v.short()))
            .collect();
        groups
            .entry(group.join(","))
            .or_default()
            .push((number(items, item, x)?, number(items, item, y)?));
    }
    Ok(groups
        .into_iter()
        .map(|(name, mut points)| {
            points.sort_by(|a, b| a.0.total_cmp(&b.0));
            Series { name, points }
        })
        .collect())
}

fn table_series(t: &Table, x: &str, y: &str, name: &str) -> Option<Series> {
    let xi = t.columns.iter().position(|c| c == x)?;
    let yi = t.columns.iter().position(|c| c == y)?;
    let cell = |row: &Vec<Cell>, i: usize| match row.get(i) {
        Some(Cell::Num(v)) => Some(*v),
        _ => None,
    };
    let points = t
        .rows
        .iter()
        .filter_map(|r| Some((cell(r, xi)?, cell(r, yi)?)))
        .collect();
    Some(Series {
        name: name.to_string(),
        points,
    })
}

/// `report.line(data, x, y)`.
pub fn line(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let items = items(input.get("data")?);
    let (x, y) = (input.str("x")?, input.str("y")?);
    let series = line_series(&items, x, y)?;
    let points: usize = series.iter().map(|s| s.points.len()).sum();
    if points == 0 {
        return Err(StageError::Invalid(format!(
            "nothing to plot: no table with columns `{x}` and `{y}`, no curve `{y}`, and no sweep points with both"
        )));
    }
    let title = title_or(input, format!("{y} vs {x}"))?;
    let chart = Chart {
        title: title.clone(),
        x_label: axis_label(x),
        y_label: axis_label(y),
    };
    Ok(plot_output(title, plot::line_svg(&chart, &series), points))
}

/// `report.bar(data, y)`.
pub fn bar(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let items = items(input.get("data")?);
    let y = input.str("y")?;
    let mut bars = Vec::with_capacity(items.len());
    for item in &items {
        bars.push((item.label.clone(), number(&items, item, y)?));
    }
    let title = title_or(input, y.to_string())?;
    let chart = Chart {
        title: title.clone(),
        x_label: String::new(),
        y_label: axis_label(y),
    };
    Ok(plot_output(title, plot::bar_svg(&chart, &bars), bars.len()))
}

fn strings(input: &StageInput, name: &str) -> Result<Vec<String>, StageError> {
    match input.value(name)? {
        Value::List(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| StageError::Invalid(format!("`{name}` must list strings")))
            })
            .collect(),
        other => Err(StageError::Internal(format!(
            "`{name}` is not a list: {other}"
        ))),
    }
}

/// The table of a single table input, restricted to `columns`.
fn select_columns(t: &Table, columns: &[String]) -> Result<Table, StageError> {
    if columns.is_empty() {
        return Ok(t.clone());
    }
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            t.columns.iter().position(|h| h == c).ok_or_else(|| {
                StageError::Invalid(format!(
                    "the table has no column `{c}`; it has: {}",
                    t.columns.join(", ")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Table {
        title: t.title.clone(),
        columns: columns.to_vec(),
        rows: t
            .rows
            .iter()
            .map(|r| {
                idx.iter()
                    .map(|&i| r.get(i).cloned().unwrap_or(Cell::Text(String::new())))
                    .collect()
            })
            .collect(),
    })
}

/// `report.table(data, columns)`: one row per point (its coordinates, then
/// metrics), or the input table itself.
pub fn table(input: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    let items = items(input.get("data")?);
    let columns = strings(input, "columns")?;
    let title = input.str("title")?.to_string();
    if let [only] = items.as_slice() {
        if only.metrics.is_empty() {
            if let [t] = only.tables.as_slice() {
                let mut out = select_columns(t, &columns)?;
                if !title.is_empty() {
                    out.title = title;
                }
                return Ok(StageOutput::single(Artifact::Table(Arc::new(out))));
            }
        }
    }
    let mut coord_names: Vec<String> = items
        .iter()
        .flat_map(|i| i.coords.keys().cloned())
        .collect();
    coord_names.sort();
    coord_names.dedup();
    let metric_names: Vec<String> = if columns.is_empty() {
        let mut all: Vec<String> = items
            .iter()
            .flat_map(|i| i.metrics.keys().cloned())
            .collect();
        all.sort();
        all.dedup();
        all
    } else {
        columns
    };
    let mut header = vec!["point".to_string()];
    header.extend(coord_names.iter().cloned());
    header.extend(metric_names.iter().cloned());
    let mut rows = Vec::with_capacity(items.len());
    for item in &items {
        let mut row = vec![Cell::Text(item.label.clone())];
        row.extend(coord_names.iter().map(|c| {
            match item.coords.get(c) {
                Some(v) => v
                    .as_f64()
                    .map(Cell::Num)
                    .unwrap_or_else(|| Cell::Text(v.short())),
                None => Cell::Text(String::new()),
            }
        }));
        for m in &metric_names {
            row.push(Cell::Num(number(&items, item, m)?));
        }
        rows.push(row);
    }
    let table = Table {
        title: if title.is_empty() {
            "report".into()
        } else {
            title
        },
        columns: header,
        rows,
    };
    let metrics = BTreeMap::from([("rows".to_string(), table.rows.len() as f64)]);
    Ok(StageOutput::single(Artifact::Table(Arc::new(table))).with_metrics(&metrics))
}
