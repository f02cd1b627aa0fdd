//! Markdown and one-line texts for what hover, completion and signature help show:
//! stage signatures, parameters (type, default, range, choices, doc), bindings,
//! builtins and namespaces. Pure text; no protocol types beyond strings.

use pipe_lang::catalog::{Catalog, ParamSig, StageSig};
use pipe_lang::types::Type;

/// `bits: int = 4`, `model: Model`.
pub fn param_label(p: &ParamSig) -> String {
    match &p.default {
        Some(default) => format!("{}: {} = {}", p.name, p.ty, default),
        None => format!("{}: {}", p.name, p.ty),
    }
}

/// `quant.evolq(model: Model, bits: int = 4) -> Model`, and where each
/// parameter's label sits in it (byte offsets, for signature help).
pub fn stage_label(sig: &StageSig) -> (String, Vec<(usize, usize)>) {
    let mut label = format!("{}(", sig.full_name());
    let mut offsets = Vec::with_capacity(sig.params.len());
    for (i, p) in sig.params.iter().enumerate() {
        if i > 0 {
            label.push_str(", ");
        }
        let start = label.len();
        label.push_str(&param_label(p));
        offsets.push((start, label.len()));
    }
    label.push_str(&format!(") -> {}", sig.output));
    (label, offsets)
}

/// The details of one parameter: type, default, range, choices, path, doc.
pub fn param_markdown(sig: &StageSig, p: &ParamSig) -> String {
    let mut out = format!("```pipe\n{}\n```\n", param_label(p));
    out.push_str(&format!("Parameter of `{}`", sig.full_name()));
    if p.default.is_none() {
        out.push_str(" (required)");
    }
    out.push_str(".\n\n");
    if !p.doc.is_empty() {
        out.push_str(p.doc);
        out.push_str("\n\n");
    }
    if let Some((lo, hi)) = p.range {
        out.push_str(&format!(
            "Range: {} to {}{}\n\n",
            lo,
            hi,
            unit_suffix(&p.ty)
        ));
    }
    if !p.choices.is_empty() {
        let choices: Vec<String> = p.choices.iter().map(|c| format!("`\"{c}\"`")).collect();
        out.push_str(&format!("One of: {}\n\n", choices.join(", ")));
    }
    if !p.tasks.is_empty() {
        let tasks: Vec<&str> = p.tasks.iter().map(|t| t.name()).collect();
        out.push_str(&format!("Accepted tasks: {}\n\n", tasks.join(", ")));
    }
    if p.path {
        out.push_str("A path relative to this file; its content is part of the cache key.\n\n");
    }
    if let Some(note) = p.default_note {
        out.push_str(&format!("Default: {note}\n\n"));
    }
    out.trim_end().to_string()
}

/// A stage's signature, docs and parameters.
pub fn stage_markdown(sig: &StageSig) -> String {
    let (label, _) = stage_label(sig);
    let mut out = format!("```pipe\n{label}\n```\n");
    if !sig.doc.is_empty() {
        out.push_str(sig.doc);
        out.push_str("\n\n");
    }
    if !sig.params.is_empty() {
        out.push_str("Parameters:\n");
        for p in &sig.params {
            out.push_str(&format!("- `{}`", param_label(p)));
            if !p.doc.is_empty() {
                out.push_str(&format!(": {}", first_line(p.doc)));
            }
            out.push('\n');
        }
    }
    if !sig.implemented {
        out.push_str("\n_Not implemented yet: `pipe run` refuses it._\n");
    }
    out.trim_end().to_string()
}

pub fn namespace_markdown(catalog: &dyn Catalog, ns: &str) -> String {
    let mut out = format!("```pipe\n{ns}\n```\nStage namespace.\n\n");
    for sig in catalog.stages(ns) {
        out.push_str(&format!(
            "- `{}`: {}\n",
            sig.full_name(),
            first_line(sig.doc)
        ));
    }
    out.trim_end().to_string()
}

/// The value builtins of docs/language.md "Names and scope".
pub fn builtin_markdown(name: &str) -> Option<&'static str> {
    Some(match name {
        "range" => "```pipe\nrange(start: int, end: int, step: int = 1) -> list[int]\n```\nIntegers from `start` up to `end` (exclusive), like Python. Folded before anything runs.",
        "linspace" => "```pipe\nlinspace(start: float, end: float, n: int) -> list[float]\n```\n`n` evenly spaced floats from `start` to `end` (inclusive). Folded before anything runs.",
        "logspace" => "```pipe\nlogspace(start: float, end: float, n: int) -> list[float]\n```\n`n` floats from `start` to `end` (inclusive), evenly spaced in log scale. Folded before anything runs.",
        _ => return None,
    })
}

pub fn first_line(doc: &str) -> &str {
    doc.lines().next().unwrap_or("")
}

fn unit_suffix(ty: &Type) -> String {
    match ty {
        Type::Quantity(dim) => format!(" {}", dim.base_unit()),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_lang::value::Value;

    fn sig() -> StageSig {
        StageSig {
            namespace: "quant",
            name: "toy",
            version: 1,
            doc: "Quantizes a model.\nMore text.",
            params: vec![
                ParamSig::required("model", Type::Model, "the model"),
                ParamSig::optional("bits", Type::Int, Value::Int(4), "weight bits").range(2.0, 8.0),
                ParamSig::optional("loss", Type::Str, Value::Str("mse".into()), "")
                    .choices(&["mse", "infonce"]),
            ],
            output: Type::Model,
            output_task_from: None,
            implemented: true,
        }
    }

    #[test]
    fn label_offsets_point_at_each_parameter() {
        let s = sig();
        let (label, offsets) = stage_label(&s);
        assert_eq!(
            label,
            "quant.toy(model: Model, bits: int = 4, loss: str = \"mse\") -> Model"
        );
        let parts: Vec<&str> = offsets.iter().map(|&(a, b)| &label[a..b]).collect();
        assert_eq!(
            parts,
            ["model: Model", "bits: int = 4", "loss: str = \"mse\""]
        );
    }

    #[test]
    fn param_markdown_has_range_choices_and_required() {
        let s = sig();
        let bits = param_markdown(&s, &s.params[1]);
        assert!(bits.contains("Range: 2 to 8"), "{bits}");
        assert!(!bits.contains("required"));
        let loss = param_markdown(&s, &s.params[2]);
        assert!(loss.contains("`\"infonce\"`"), "{loss}");
        let model = param_markdown(&s, &s.params[0]);
        assert!(model.contains("(required)"), "{model}");
    }
}
