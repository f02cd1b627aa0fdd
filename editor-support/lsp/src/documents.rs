//! The open buffers, by module name: their URI as the client sent it, version and
//! full text (the server asks for full-document sync). It owns no analysis.

use crate::line_index::LineIndex;
use lsp_types::Uri;
use std::collections::BTreeMap;

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

#[derive(Debug, Default)]
pub struct Documents {
    by_name: BTreeMap<String, Document>,
}

impl Documents {
    pub fn open(&mut self, name: String, doc: Document) {
        self.by_name.insert(name, doc);
    }

    /// Replaces the text of an open document; `false` when it is not open.
    pub fn replace(&mut self, name: &str, version: i32, text: String) -> bool {
        let Some(doc) = self.by_name.get_mut(name) else {
            return false;
        };
        doc.index = LineIndex::new(&text);
        doc.text = text;
        doc.version = version;
        true
    }

    pub fn close(&mut self, name: &str) -> Option<Document> {
        self.by_name.remove(name)
    }

    pub fn get(&self, name: &str) -> Option<&Document> {
        self.by_name.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.by_name.keys()
    }
}
