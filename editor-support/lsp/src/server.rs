//! The message loop: the initialize handshake, then one message at a time until
//! `shutdown`/`exit` or the client goes away. Requests are answered in order;
//! diagnostics are published once the queue is empty, so a burst of edits is
//! checked once. A handler error or panic becomes an error response: no input
//! ends the server.

use crate::capabilities;
use crate::completion::{self, Site};
use crate::error::LspError;
use crate::folding;
use crate::formatting;
use crate::hover;
use crate::navigation;
use crate::rename;
use crate::semantic_tokens;
use crate::signature_help;
use crate::state::State;
use crate::symbols;
use crate::uri;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CompletionResponse, DocumentSymbolResponse, GotoDefinitionResponse, PrepareRenameResponse,
    PublishDiagnosticsParams, SemanticTokensResult, TextDocumentContentChangeEvent,
    TextDocumentPositionParams,
};
use pipe_lang::catalog::Catalog;
use serde_json::Value;
use std::panic::{self, AssertUnwindSafe};

/// Why one request failed; sent back as the response's error.
pub struct RequestError {
    code: ErrorCode,
    message: String,
}

impl RequestError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RequestError {
            code,
            message: message.into(),
        }
    }

    fn failed(message: impl Into<String>) -> Self {
        RequestError::new(ErrorCode::RequestFailed, message)
    }
}

type Handled<T> = Result<T, RequestError>;

/// Runs the server on `connection` until the client shuts it down or leaves.
pub fn serve(connection: &Connection, catalog: &dyn Catalog) -> Result<(), LspError> {
    let (id, _params) = connection.initialize_start()?;
    let result = serde_json::json!({
        "capabilities": capabilities::server_capabilities(),
        "serverInfo": { "name": "pipe-lsp", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result)?;
    let mut server = Server {
        conn: connection,
        state: State::new(catalog),
    };
    server.main_loop()
}

struct Server<'a> {
    conn: &'a Connection,
    state: State<'a>,
}

impl Server<'_> {
    fn main_loop(&mut self) -> Result<(), LspError> {
        while let Ok(msg) = self.conn.receiver.recv() {
            match msg {
                Message::Request(request) => {
                    if self.conn.handle_shutdown(&request)? {
                        return Ok(());
                    }
                    self.on_request(request)?;
                }
                Message::Notification(n) if n.method == note::Exit::METHOD => return Ok(()),
                Message::Notification(n) => self.on_notification(n)?,
                Message::Response(_) => {}
            }
            if self.conn.receiver.is_empty() && self.state.has_dirty() {
                for params in self.state.refresh_all() {
                    self.publish(params)?;
                }
            }
        }
        Ok(())
    }

    fn send(&self, msg: Message) -> Result<(), LspError> {
        self.conn
            .sender
            .send(msg)
            .map_err(|_| LspError::Disconnected)
    }

    fn publish(&self, params: PublishDiagnosticsParams) -> Result<(), LspError> {
        let n = Notification::new(note::PublishDiagnostics::METHOD.to_string(), params);
        self.send(n.into())
    }

    fn on_request(&mut self, request: Request) -> Result<(), LspError> {
        let id = request.id.clone();
        let response = match panic::catch_unwind(AssertUnwindSafe(|| self.dispatch(request))) {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err(err)) => Response::new_err(id, err.code as i32, err.message),
            Err(_) => Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                "internal error: the language server failed on this request; please report it"
                    .to_string(),
            ),
        };
        self.send(response.into())
    }

    fn on_notification(&mut self, n: Notification) -> Result<(), LspError> {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| self.notification(n)));
        for params in outcome.unwrap_or_default() {
            self.publish(params)?;
        }
        Ok(())
    }

    /// Applies a notification; returns diagnostics to publish right away (a closed
    /// document's empty list).
    fn notification(&mut self, n: Notification) -> Vec<PublishDiagnosticsParams> {
        self.apply_notification(n).unwrap_or_default()
    }

    fn apply_notification(&mut self, n: Notification) -> Option<Vec<PublishDiagnosticsParams>> {
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                let doc = p.text_document;
                self.state.open(doc.uri, doc.version, doc.text);
                Some(Vec::new())
            }
            note::DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                let name = uri::name_of(&p.text_document.uri);
                let doc = self.state.documents.get(&name)?;
                let text = apply_changes(doc, p.content_changes);
                self.state.change(&name, p.text_document.version, text);
                Some(Vec::new())
            }
            note::DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                Some(self.state.close(&uri::name_of(&p.text_document.uri)))
            }
            note::DidChangeWatchedFiles::METHOD => {
                self.state.disk_changed();
                Some(Vec::new())
            }
            _ => None,
        }
    }

    fn dispatch(&mut self, request: Request) -> Handled<Value> {
        match request.method.as_str() {
            req::Completion::METHOD => self.on::<req::Completion>(request, Self::completion),
            req::HoverRequest::METHOD => self.on::<req::HoverRequest>(request, Self::hover),
            req::SignatureHelpRequest::METHOD => {
                self.on::<req::SignatureHelpRequest>(request, Self::signature_help)
            }
            req::GotoDefinition::METHOD => {
                self.on::<req::GotoDefinition>(request, Self::definition)
            }
            req::References::METHOD => self.on::<req::References>(request, Self::references),
            req::PrepareRenameRequest::METHOD => {
                self.on::<req::PrepareRenameRequest>(request, Self::prepare_rename)
            }
            req::Rename::METHOD => self.on::<req::Rename>(request, Self::rename),
            req::DocumentSymbolRequest::METHOD => {
                self.on::<req::DocumentSymbolRequest>(request, Self::document_symbols)
            }
            req::Formatting::METHOD => self.on::<req::Formatting>(request, Self::formatting),
            req::SemanticTokensFullRequest::METHOD => {
                self.on::<req::SemanticTokensFullRequest>(request, Self::semantic_tokens)
            }
            req::SemanticTokensRangeRequest::METHOD => {
                self.on::<req::SemanticTokensRangeRequest>(request, Self::semantic_tokens_range)
            }
            req::FoldingRangeRequest::METHOD => {
                self.on::<req::FoldingRangeRequest>(request, Self::folding_ranges)
            }
            other => Err(RequestError::new(
                ErrorCode::MethodNotFound,
                format!("`{other}` is not supported by pipe-lsp"),
            )),
        }
    }

    fn on<R: req::Request>(
        &mut self,
        request: Request,
        handler: fn(&mut Self, R::Params) -> Handled<R::Result>,
    ) -> Handled<Value> {
        let params = serde_json::from_value::<R::Params>(request.params).map_err(|e| {
            RequestError::new(ErrorCode::InvalidParams, format!("{}: {e}", R::METHOD))
        })?;
        let result = handler(self, params)?;
        serde_json::to_value(result)
            .map_err(|e| RequestError::new(ErrorCode::InternalError, e.to_string()))
    }

    /// Brings the document up to date (publishing its diagnostics if it changed)
    /// and returns its name.
    fn fresh(&mut self, uri: &lsp_types::Uri) -> Handled<String> {
        let name = uri::name_of(uri);
        for params in self.state.refresh(&name) {
            self.publish(params)
                .map_err(|e| RequestError::new(ErrorCode::InternalError, e.to_string()))?;
        }
        if self.state.get(&name).is_none() {
            return Err(RequestError::failed(format!(
                "{name} is not open or could not be checked"
            )));
        }
        Ok(name)
    }

    /// Every open document up to date, for requests that look across files.
    fn fresh_all(&mut self) -> Handled<()> {
        for params in self.state.refresh_all() {
            self.publish(params)
                .map_err(|e| RequestError::new(ErrorCode::InternalError, e.to_string()))?;
        }
        Ok(())
    }

    fn position(&mut self, at: &TextDocumentPositionParams) -> Handled<(String, usize)> {
        let name = self.fresh(&at.text_document.uri)?;
        let doc = self
            .state
            .documents
            .get(&name)
            .ok_or_else(|| RequestError::failed("the document is not open"))?;
        Ok((name.clone(), doc.index.offset(&doc.text, at.position)))
    }

    fn completion(
        &mut self,
        p: lsp_types::CompletionParams,
    ) -> Handled<Option<CompletionResponse>> {
        let (name, offset) = self.position(&p.text_document_position)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        let site = Site {
            doc,
            analysis,
            catalog: self.state.catalog,
            offset,
        };
        Ok(Some(CompletionResponse::Array(completion::complete(&site))))
    }

    fn hover(&mut self, p: lsp_types::HoverParams) -> Handled<Option<lsp_types::Hover>> {
        let (name, offset) = self.position(&p.text_document_position_params)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        Ok(hover::hover(doc, analysis, self.state.catalog, offset))
    }

    fn signature_help(
        &mut self,
        p: lsp_types::SignatureHelpParams,
    ) -> Handled<Option<lsp_types::SignatureHelp>> {
        let (name, offset) = self.position(&p.text_document_position_params)?;
        let Some(doc) = self.state.documents.get(&name) else {
            return Ok(None);
        };
        Ok(signature_help::signature_help(
            doc,
            self.state.catalog,
            offset,
        ))
    }

    fn definition(
        &mut self,
        p: lsp_types::GotoDefinitionParams,
    ) -> Handled<Option<GotoDefinitionResponse>> {
        let (name, offset) = self.position(&p.text_document_position_params)?;
        let location = navigation::definition(&self.state, &name, offset);
        Ok(location.map(GotoDefinitionResponse::Scalar))
    }

    fn references(
        &mut self,
        p: lsp_types::ReferenceParams,
    ) -> Handled<Option<Vec<lsp_types::Location>>> {
        self.fresh_all()?;
        let (name, offset) = self.position(&p.text_document_position)?;
        let include = p.context.include_declaration;
        Ok(Some(navigation::references(
            &self.state,
            &name,
            offset,
            include,
        )))
    }

    fn prepare_rename(
        &mut self,
        p: TextDocumentPositionParams,
    ) -> Handled<Option<PrepareRenameResponse>> {
        let (name, offset) = self.position(&p)?;
        let range = rename::prepare(&self.state, &name, offset).map_err(RequestError::failed)?;
        Ok(Some(PrepareRenameResponse::Range(range)))
    }

    fn rename(&mut self, p: lsp_types::RenameParams) -> Handled<Option<lsp_types::WorkspaceEdit>> {
        self.fresh_all()?;
        let (name, offset) = self.position(&p.text_document_position)?;
        let edit = rename::rename(&self.state, &name, offset, &p.new_name)
            .map_err(RequestError::failed)?;
        Ok(Some(edit))
    }

    fn document_symbols(
        &mut self,
        p: lsp_types::DocumentSymbolParams,
    ) -> Handled<Option<DocumentSymbolResponse>> {
        let name = self.fresh(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        Ok(Some(DocumentSymbolResponse::Nested(
            symbols::document_symbols(doc, analysis),
        )))
    }

    fn formatting(
        &mut self,
        p: lsp_types::DocumentFormattingParams,
    ) -> Handled<Option<Vec<lsp_types::TextEdit>>> {
        let name = uri::name_of(&p.text_document.uri);
        let doc = self
            .state
            .documents
            .get(&name)
            .ok_or_else(|| RequestError::failed(format!("{name} is not open")))?;
        Ok(Some(formatting::format(doc, &name)))
    }

    fn semantic_tokens(
        &mut self,
        p: lsp_types::SemanticTokensParams,
    ) -> Handled<Option<SemanticTokensResult>> {
        let name = self.fresh(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        Ok(Some(SemanticTokensResult::Tokens(semantic_tokens::full(
            doc, analysis,
        ))))
    }
}

impl Server<'_> {
    fn semantic_tokens_range(
        &mut self,
        p: lsp_types::SemanticTokensRangeParams,
    ) -> Handled<Option<lsp_types::SemanticTokensRangeResult>> {
        let name = self.fresh(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        let tokens = semantic_tokens::range(doc, analysis, p.range);
        Ok(Some(lsp_types::SemanticTokensRangeResult::Tokens(tokens)))
    }

    fn folding_ranges(
        &mut self,
        p: lsp_types::FoldingRangeParams,
    ) -> Handled<Option<Vec<lsp_types::FoldingRange>>> {
        let name = self.fresh(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        Ok(Some(folding::folding_ranges(doc, analysis)))
    }
}

/// The text after a `didChange`: a change without a range replaces everything
/// (full sync); one with a range is applied in place, in order.
fn apply_changes(
    doc: &crate::documents::Document,
    changes: Vec<TextDocumentContentChangeEvent>,
) -> String {
    let mut text = doc.text.clone();
    for change in changes {
        match change.range {
            None => text = change.text,
            Some(range) => {
                let index = crate::line_index::LineIndex::new(&text);
                let span = index.span(&text, range);
                text.replace_range(span.start..span.end, &change.text);
            }
        }
    }
    text
}
