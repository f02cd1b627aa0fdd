//! Signature help inside a stage call: the signature, its docs, and which
//! parameter the cursor is on (by the argument's name when written, else by
//! position).

use crate::call_context;
use crate::describe;
use crate::documents::Document;
use crate::line_index::utf16_len;
use crate::tokens;
use lsp_types::{
    Documentation, MarkupContent, MarkupKind, ParameterInformation, ParameterLabel, SignatureHelp,
    SignatureInformation,
};
use pipe_lang::catalog::Catalog;

pub fn signature_help(
    doc: &Document,
    catalog: &dyn Catalog,
    offset: usize,
) -> Option<SignatureHelp> {
    let tokens = tokens::tokenize(&doc.text);
    let ctx = call_context::find(&doc.text, &tokens, offset)?;
    let [ns, stage] = ctx.callee.as_slice() else {
        return None;
    };
    let sig = catalog.stage(ns, stage)?;
    let (label, offsets) = describe::stage_label(sig);
    let parameters = sig
        .params
        .iter()
        .zip(&offsets)
        .map(|(p, &(start, end))| ParameterInformation {
            label: ParameterLabel::LabelOffsets([utf16_at(&label, start), utf16_at(&label, end)]),
            documentation: (!p.doc.is_empty()).then(|| Documentation::String(p.doc.to_string())),
        })
        .collect();
    let active = match &ctx.arg_name {
        Some(name) => sig.params.iter().position(|p| p.name == name),
        None => Some(ctx.arg_index).filter(|&i| i < sig.params.len()),
    };
    let active = active.and_then(|i| u32::try_from(i).ok());
    let info = SignatureInformation {
        label,
        documentation: Some(Documentation::MarkupContent(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sig.doc.to_string(),
        })),
        parameters: Some(parameters),
        active_parameter: active,
    };
    Some(SignatureHelp {
        signatures: vec![info],
        active_signature: Some(0),
        active_parameter: active,
    })
}

fn utf16_at(label: &str, byte: usize) -> u32 {
    u32::try_from(utf16_len(label.get(..byte).unwrap_or(label))).unwrap_or(u32::MAX)
}
