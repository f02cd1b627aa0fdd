//! Progress bars for long stages (indicatif), with ETA. A bar appears only when a
//! stage reports a total and stdout is a terminal; otherwise nothing is drawn.
//! This module only draws; it never decides what runs.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipe_stdlib::stage::{NoProgress, Progress};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

/// Makes one progress sink per running node.
pub trait ProgressFactory: Sync {
    fn for_node(&self, name: &str) -> Arc<dyn Progress + Send + Sync>;
}

/// Draws nothing (tests, JSON output, non-terminals).
pub struct Quiet;

impl ProgressFactory for Quiet {
    fn for_node(&self, _: &str) -> Arc<dyn Progress + Send + Sync> {
        Arc::new(NoProgress)
    }
}

/// indicatif bars under one `MultiProgress`.
pub struct Bars {
    multi: MultiProgress,
}

impl Bars {
    /// Bars when stdout is a terminal, `Quiet` otherwise.
    pub fn for_stdout() -> Box<dyn ProgressFactory> {
        if std::io::stdout().is_terminal() {
            Box::new(Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            })
        } else {
            Box::new(Quiet)
        }
    }
}

impl ProgressFactory for Bars {
    fn for_node(&self, name: &str) -> Arc<dyn Progress + Send + Sync> {
        Arc::new(NodeBar {
            multi: self.multi.clone(),
            name: name.to_string(),
            bar: Mutex::new(None),
        })
    }
}

struct NodeBar {
    multi: MultiProgress,
    name: String,
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for NodeBar {
    fn set_total(&self, total: u64, unit: &str) {
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        let bar = self.multi.add(ProgressBar::new(total));
        let template = format!("{{prefix:>16}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}} left)");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(self.name.clone());
        *slot = Some(bar);
    }

    fn advance(&self, done: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(done);
            }
        }
    }
}

impl Drop for NodeBar {
    fn drop(&mut self) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.finish_and_clear();
                self.multi.remove(bar);
            }
        }
    }
}
