//! The open buffers, by module name: their URI as the client sent it, version and
//! full text (the server asks for full-document sync). It owns no analysis.
//! Documents are shared (`Arc`), so a snapshot of every open buffer for a check
//! on the worker thread costs a map of pointers, not a copy of the texts.

use crate::line_index::LineIndex;
use lsp_types::Uri;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Document {
    pub uri: Uri,
    pub version: i32,
    pub text: String,
    pub index: LineIndex,
}

impl Document {
    pub fn new(uri: Uri, version: i32, text: String) -> Self {
        let index = LineIndex::new(&text);
        Document {
            uri,
            version,
            text,
            index,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Documents {
    by_name: BTreeMap<String, Arc<Document>>,
}

impl Documents {
    pub fn open(&mut self, name: String, doc: Document) {
        self.by_name.insert(name, Arc::new(doc));
    }

    /// Replaces the text of an open document; `false` when it is not open.
    pub fn replace(&mut self, name: &str, version: i32, text: String) -> bool {
        let Some(doc) = self.by_name.get_mut(name) else {
            return false;
        };
        *doc = Arc::new(Document::new(doc.uri.clone(), version, text));
        true
    }

    pub fn close(&mut self, name: &str) -> Option<Arc<Document>> {
        self.by_name.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Document> {
        self.by_name.get(name).map(|d| &**d)
    }

    /// The shared document, for an analysis to keep the text it checked.
    pub fn shared(&self, name: &str) -> Option<Arc<Document>> {
        self.by_name.get(name).cloned()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.by_name.keys()
    }
}
