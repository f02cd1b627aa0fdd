//! `pipe doc` end to end: the real binary, its stdout, stderr and exit codes,
//! checked against the catalog it documents.

use pipe_stdlib::Stdlib;
use std::process::Output;

fn doc(args: &[&str]) -> Output {
    pipe_tests::pipe()
        .arg("doc")
        .args(args)
        .output()
        .expect("run pipe doc")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn catalog_lists_every_stage_once_with_its_status() {
    let out = doc(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for sig in Stdlib::get().all() {
        let name = sig.full_name();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(name.as_str()))
            .collect();
        assert_eq!(lines.len(), 1, "`{name}` listed {} times", lines.len());
        let marked = lines[0].ends_with("(not implemented yet)");
        assert_eq!(marked, !sig.implemented, "status of `{name}`: {}", lines[0]);
    }
    let order: Vec<usize> = pipe_stdlib::NAMESPACES
        .iter()
        .map(|ns| text.find(&format!("\n{ns}  (")).unwrap_or(0))
        .collect();
    assert!(text.starts_with("dataset  ("), "{text}");
    assert!(
        order[1..].windows(2).all(|w| 0 < w[0] && w[0] < w[1]),
        "namespaces in order"
    );
}

#[test]
fn stage_page_shows_parameters_outputs_and_version() {
    let out = doc(&["dataset.mnist"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "dataset.mnist  (version 1)",
        "images: str  (required)",
        "a file path, relative to the .pipe file",
        "Output\n  Dataset[classify]",
        "Status: implemented",
    ] {
        assert!(text.contains(want), "missing `{want}` in\n{text}");
    }
}

#[test]
fn stage_page_labels_project_defaults_and_choices() {
    let out = doc(&["train.supervised"]);
    let text = stdout(&out);
    assert!(text.contains("schedule: str = \"cosine\""), "{text}");
    assert!(
        text.contains("one of: \"cosine\", \"step\", \"constant\""),
        "{text}"
    );
    assert!(
        text.contains("data: Dataset  (required)\n      tasks: classify, av_event"),
        "{text}"
    );
    assert!(
        text.contains("{curve: Table, metrics: Metrics, model: Model}"),
        "{text}"
    );
    let vit = stdout(&doc(&["model.vit"]));
    assert!(vit.contains("project default: not from a paper"), "{vit}");
}

#[test]
fn namespace_page_lists_only_that_namespace() {
    let out = doc(&["quant"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let listed: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let expected: Vec<String> = Stdlib::get()
        .all()
        .filter(|s| s.namespace == "quant")
        .map(|s| s.full_name())
        .collect();
    assert_eq!(listed, expected);
}

#[test]
fn unknown_names_exit_2_with_a_suggestion() {
    let out = doc(&["quant.evloq"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("unknown stage `quant.evloq`"), "{err}");
    assert!(err.contains("did you mean `quant.evolq`?"), "{err}");
    let out = doc(&["evolq"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean `quant.evolq`?"));
}
