//! The task kinds of the standard library's datasets: the one place that names
//! them. Signatures, dataset payloads and manifests use these constants; the front
//! end learns the list through `Catalog::task_kinds`. Owns names and docs only:
//! what a stage does with a kind lives in the stage.

use pipe_lang::catalog::TaskKind;
use pipe_lang::types::Task;
use serde::{de, Deserialize, Deserializer};

pub const CLASSIFY: Task = Task::new("classify");
pub const DETECT: Task = Task::new("detect");
pub const VIDEO_DETECT: Task = Task::new("video_detect");
pub const SEGMENT: Task = Task::new("segment");
pub const AV_EVENT: Task = Task::new("av_event");

/// Every kind, in catalog order.
pub const TASK_KINDS: &[TaskKind] = &[
    TaskKind {
        task: CLASSIFY,
        doc: "Labelled images, one class each.",
    },
    TaskKind {
        task: DETECT,
        doc: "Images with labelled boxes.",
    },
    TaskKind {
        task: VIDEO_DETECT,
        doc: "Video frames with labelled boxes, frames ordered within each video.",
    },
    TaskKind {
        task: SEGMENT,
        doc: "Images partitioned into regions, each region named by a noun.",
    },
    TaskKind {
        task: AV_EVENT,
        doc: "Videos of one-second audio-visual segments, each labelled with an event class or background.",
    },
];

/// The declared kind named `name`.
pub fn by_name(name: &str) -> Option<Task> {
    TASK_KINDS
        .iter()
        .find(|k| k.task.name() == name)
        .map(|k| k.task)
}

/// Reads a manifest's task by name; a name this catalog does not declare is an
/// error that lists the declared ones.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Task, D::Error> {
    let name = String::deserialize(d)?;
    by_name(&name).ok_or_else(|| {
        let known: Vec<&str> = TASK_KINDS.iter().map(|k| k.task.name()).collect();
        de::Error::custom(format!(
            "unknown task kind `{name}` (this catalog declares {})",
            known.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_lang::types::Type;

    #[test]
    fn a_kind_serializes_as_its_bare_name() {
        let json = serde_json::to_string(&VIDEO_DETECT).unwrap();
        assert_eq!(json, "\"video_detect\"");
    }

    #[test]
    fn a_manifest_task_reads_back_as_the_declared_kind() {
        let mut de = serde_json::Deserializer::from_str("\"av_event\"");
        assert_eq!(deserialize(&mut de).unwrap(), AV_EVENT);
    }

    #[test]
    fn an_unknown_manifest_task_is_an_error_naming_the_kinds() {
        let mut de = serde_json::Deserializer::from_str("\"translate\"");
        let err = deserialize(&mut de).unwrap_err().to_string();
        assert!(err.contains("unknown task kind `translate`"), "{err}");
        assert!(
            err.contains("classify, detect, video_detect, segment, av_event"),
            "{err}"
        );
    }

    /// The tasks a type names: `Dataset[t]` at any depth of lists, records and sweeps.
    fn named_tasks(ty: &Type) -> Vec<Task> {
        let mut found = Vec::new();
        let mut todo = vec![ty];
        while let Some(t) = todo.pop() {
            match t {
                Type::Dataset(Some(task)) => found.push(*task),
                Type::List(inner) | Type::Sweep(inner) => todo.push(inner),
                Type::Record(fields) => todo.extend(fields.values()),
                _ => {}
            }
        }
        found
    }

    #[test]
    fn every_task_a_signature_names_is_declared() {
        for sig in crate::Stdlib::get().all() {
            let named = sig
                .params
                .iter()
                .flat_map(|p| p.tasks.iter().copied().chain(named_tasks(&p.ty)))
                .chain(named_tasks(&sig.output));
            for task in named {
                assert_eq!(
                    by_name(task.name()),
                    Some(task),
                    "{} names `{}`",
                    sig.full_name(),
                    task.name()
                );
            }
        }
    }

    #[test]
    fn kind_names_are_unique() {
        for (i, k) in TASK_KINDS.iter().enumerate() {
            assert_eq!(by_name(k.task.name()), Some(k.task));
            assert!(TASK_KINDS[..i].iter().all(|o| o.task != k.task));
        }
    }
}
