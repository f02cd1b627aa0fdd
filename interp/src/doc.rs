//! The stage catalog as text (`pipe doc [NAME]`). Without NAME, every namespace
//! with one line per stage; with `ns`, that namespace; with `ns.stage`, the full
//! signature (parameters with type, default, range, choices, tasks and docs;
//! outputs; version). Reads only the catalog: never runs a stage or reads a file.

use pipe_lang::catalog::{ParamSig, StageSig};
use pipe_lang::suggest::closest;
use pipe_lang::types::Type;
use pipe_lang::units::{Dim, UNITS};
use pipe_lang::value::Value;
use pipe_stdlib::NAMESPACES;
use std::fmt::Write;

/// Text width the docs are wrapped to.
const WIDTH: usize = 88;
/// Longest one-line summary in a listing.
const SUMMARY: usize = 72;

/// The page for `name` (the whole catalog when `None`), or the error message.
pub fn render(stages: &[&StageSig], name: Option<&str>) -> Result<String, String> {
    let Some(name) = name else {
        return Ok(catalog_page(stages));
    };
    if let Some(stage) = stages.iter().find(|s| s.full_name() == name) {
        return Ok(stage_page(stage));
    }
    if NAMESPACES.contains(&name) {
        return Ok(namespace_block(stages, name));
    }
    Err(unknown(stages, name))
}

/// "unknown stage" with the most plausible intended name.
fn unknown(stages: &[&StageSig], name: &str) -> String {
    let kind = if name.contains('.') {
        "stage"
    } else {
        "namespace or stage"
    };
    let mut message = format!("unknown {kind} `{name}`");
    let bare_match = stages
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.full_name());
    let full_names: Vec<String> = stages.iter().map(|s| s.full_name()).collect();
    let candidates = full_names
        .iter()
        .map(String::as_str)
        .chain(NAMESPACES.iter().copied());
    let hint = bare_match.or_else(|| closest(name, candidates).map(str::to_string));
    match hint {
        Some(h) => write!(message, "\n  help: did you mean `{h}`?").ok(),
        None => write!(message, "\n  help: `pipe doc` lists every stage").ok(),
    };
    message
}

fn catalog_page(stages: &[&StageSig]) -> String {
    let mut out = String::new();
    for ns in NAMESPACES {
        out.push_str(&namespace_block(stages, ns));
        out.push('\n');
    }
    out.push_str("`pipe doc NS.STAGE` shows a stage's parameters, outputs and version.\n");
    out
}

fn namespace_block(stages: &[&StageSig], ns: &str) -> String {
    let members: Vec<&&StageSig> = stages.iter().filter(|s| s.namespace == ns).collect();
    let width = members
        .iter()
        .map(|s| s.full_name().len())
        .max()
        .unwrap_or(0);
    let mut out = format!("{ns}  ({} stages)\n", members.len());
    for s in members {
        let missing = if s.implemented {
            ""
        } else {
            " (not implemented yet)"
        };
        let line = format!("  {:width$}  {}{missing}", s.full_name(), summary(s.doc));
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn stage_page(s: &StageSig) -> String {
    let mut out = format!("{}  (version {})\n\n", s.full_name(), s.version);
    wrap_into(&mut out, s.doc, 2);
    out.push_str("\nParameters\n");
    if s.params.is_empty() {
        out.push_str("  (none)\n");
    }
    for p in &s.params {
        param_entry(&mut out, p);
    }
    out.push_str("\nOutput\n");
    let _ = writeln!(out, "  {}", s.output);
    if let Some(from) = s.output_task_from {
        let _ = writeln!(out, "  (the output dataset has the task of `{from}`)");
    }
    let status = if s.implemented {
        "implemented"
    } else {
        "not implemented yet: `pipe check` accepts it, `pipe run` stops at it"
    };
    let _ = writeln!(out, "\nStatus: {status}");
    out
}

fn param_entry(out: &mut String, p: &ParamSig) {
    let head = match &p.default {
        Some(d) => format!("  {}: {} = {}", p.name, p.ty, show_value(d)),
        None => format!("  {}: {}  (required)", p.name, p.ty),
    };
    out.push_str(&head);
    out.push('\n');
    let mut facts = Vec::new();
    if let Some((lo, hi)) = p.range {
        facts.push(format!("range: {}", show_range(&p.ty, lo, hi)));
    }
    if !p.choices.is_empty() {
        let quoted: Vec<String> = p.choices.iter().map(|c| format!("\"{c}\"")).collect();
        facts.push(format!("one of: {}", quoted.join(", ")));
    }
    if !p.tasks.is_empty() {
        let tasks: Vec<&str> = p.tasks.iter().map(|t| t.name()).collect();
        facts.push(format!("tasks: {}", tasks.join(", ")));
    }
    if p.path {
        facts.push("a file path, relative to the .pipe file".to_string());
    }
    for fact in facts {
        let _ = writeln!(out, "      {fact}");
    }
    wrap_into(out, p.doc, 6);
    if let Some(note) = p.default_note {
        wrap_into(
            out,
            &format!("project default: {}", strip_note_prefix(note)),
            6,
        );
    }
}

/// Notes are written "project default, not from the paper: ..."; the page adds
/// its own "project default:" label, so a leading copy is dropped.
fn strip_note_prefix(note: &str) -> &str {
    note.strip_prefix("project default")
        .map(|rest| rest.trim_start_matches([',', ':', ' ']))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(note)
}

/// The first sentence of a doc, cut to `SUMMARY` characters at a word boundary.
fn summary(doc: &str) -> String {
    let sentence = first_sentence(doc);
    if sentence.chars().count() <= SUMMARY {
        return sentence.to_string();
    }
    // "Name: details" reads best as just the name when the whole is too long.
    if let Some((head, _)) = sentence.split_once(": ") {
        if head.split_whitespace().count() >= 3 && !head.contains('(') {
            return format!("{head}.");
        }
    }
    let mut cut = String::new();
    for word in sentence.split_whitespace() {
        if cut.chars().count() + word.chars().count() + 1 > SUMMARY - 3 {
            break;
        }
        if !cut.is_empty() {
            cut.push(' ');
        }
        cut.push_str(word);
    }
    cut.trim_end_matches([',', ':', ';']).to_string() + "..."
}

/// Up to and including the first full stop that ends a sentence (not `e.g.`).
fn first_sentence(doc: &str) -> &str {
    let mut start = 0;
    while let Some(pos) = doc[start..].find(". ") {
        let end = start + pos;
        let word = doc[..end]
            .rsplit(' ')
            .next()
            .unwrap_or("")
            .trim_start_matches('(');
        if !matches!(word, "e.g" | "i.e" | "etc" | "vs") {
            return &doc[..=end];
        }
        start = end + 2;
    }
    doc
}

/// Appends `text` wrapped to `WIDTH`, each line indented by `indent` spaces.
fn wrap_into(out: &mut String, text: &str, indent: usize) {
    let pad = " ".repeat(indent);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent + line.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{pad}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{pad}{line}");
    }
}

/// A value as a user would write it: quantities in their most readable unit.
fn show_value(v: &Value) -> String {
    match v {
        Value::Quantity { value, dim } => show_quantity(*value, *dim),
        Value::List(items) => {
            let parts: Vec<String> = items.iter().map(show_value).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

fn show_range(ty: &Type, lo: f64, hi: f64) -> String {
    let show = |x: f64| match ty {
        Type::Quantity(dim) => show_quantity(x, *dim),
        _ => show_number(x),
    };
    if hi >= i64::MAX as f64 {
        format!(">= {}", show(lo))
    } else {
        format!("{}..{}", show(lo), show(hi))
    }
}

/// A number with at most 6 significant digits and no float noise.
fn show_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let rounded: f64 = format!("{x:.6e}").parse().unwrap_or(x);
    format!("{rounded}")
}

/// The unit of `dim` that writes `base` shortest (`128KiB`, `2.4GHz`, `22nm`),
/// among units giving a magnitude of at least 1; ties go to the larger unit.
fn show_quantity(base: f64, dim: Dim) -> String {
    let units = UNITS.iter().filter(|(_, d, _)| *d == dim);
    let mut best: Option<(String, f64)> = None;
    for &(suffix, _, factor) in units {
        let magnitude = base / factor;
        if magnitude.abs() < 1.0 && base != 0.0 {
            continue;
        }
        let text = format!("{}{suffix}", show_number(magnitude));
        let better = best
            .as_ref()
            .is_none_or(|(b, bf)| text.len() < b.len() || (text.len() == b.len() && factor > *bf));
        if better {
            best = Some((text, factor));
        }
    }
    best.map_or_else(
        || format!("{}{}", show_number(base), dim.base_unit()),
        |(t, _)| t,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages() -> Vec<&'static StageSig> {
        pipe_stdlib::Stdlib::get().all().collect()
    }

    #[test]
    fn quantities_use_readable_units() {
        assert_eq!(show_quantity(131072.0, Dim::Bytes), "128KiB");
        assert_eq!(show_quantity(512.0, Dim::Bytes), "512B");
        assert_eq!(show_quantity(2.4e9, Dim::Freq), "2.4GHz");
        assert_eq!(show_quantity(0.6e9, Dim::Freq), "600MHz");
        assert_eq!(show_quantity(22e-9, Dim::Length), "22nm");
        assert_eq!(show_quantity(0.1, Dim::Time), "100ms");
        assert_eq!(show_quantity(25.0, Dim::Temp), "25degC");
    }

    #[test]
    fn summaries_stop_at_the_first_sentence() {
        assert_eq!(first_sentence("One (e.g. two). Three."), "One (e.g. two).");
        let long_tail = format!("A short name: {}", "x ".repeat(50));
        assert_eq!(summary(&long_tail), "A short name.");
        let two_words = format!("MobileNetV2 blocks: {}", "x ".repeat(50));
        assert!(summary(&two_words).starts_with("MobileNetV2 blocks: x"));
        let long = "word ".repeat(40);
        let s = summary(&long);
        assert!(s.ends_with("...") && s.len() <= SUMMARY, "{s}");
    }

    #[test]
    fn stage_page_shows_the_whole_signature() {
        let page = render(&stages(), Some("sim.accelerator")).expect("known stage");
        for want in [
            "sim.accelerator  (version 2)",
            "pe: str = \"int8\"",
            "one of: \"int16\", \"int8\", \"int4\", \"lightpe1\", \"lightpe2\"",
            "glb: bytes = 128KiB",
            "range: 1B..16MiB",
            "model: Model  (required)",
            "project default: not from the paper",
            "{layers: Table, metrics: Metrics}",
        ] {
            assert!(page.contains(want), "missing `{want}` in\n{page}");
        }
    }

    #[test]
    fn unknown_names_get_a_suggestion() {
        let err = render(&stages(), Some("sim.acelerator")).unwrap_err();
        assert!(err.contains("did you mean `sim.accelerator`?"), "{err}");
        let err = render(&stages(), Some("accelerator")).unwrap_err();
        assert!(err.contains("did you mean `sim.accelerator`?"), "{err}");
        let err = render(&stages(), Some("zzzz")).unwrap_err();
        assert!(err.contains("`pipe doc` lists every stage"), "{err}");
    }

    #[test]
    fn note_prefix_is_not_repeated() {
        assert_eq!(
            strip_note_prefix("project default, not from the paper: x"),
            "not from the paper: x"
        );
        assert_eq!(
            strip_note_prefix("from Unbiased Teacher"),
            "from Unbiased Teacher"
        );
    }
}
