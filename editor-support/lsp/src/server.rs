//! The message loop: the initialize handshake, then messages until
//! `shutdown`/`exit` or the client goes away. Requests are answered on this
//! thread from the last analysis: checks run on the check worker, handed out
//! once the queue is empty (a burst of edits is checked once) and installed when
//! they finish, so no request waits behind a re-check. Completion on a document
//! being checked is put aside and answered when that check lands (it must see
//! the bindings just typed), while the loop goes on with other messages. Only
//! requests that edit text (rename, code actions) or look across files
//! (references) check a stale document here first. Cache states are read on their own worker at open
//! and save. A handler error or panic becomes an error response: no input ends
//! the server.

use crate::cache_state::{CacheStateProvider, FileStates};
use crate::capabilities;
use crate::check_worker::{self, CheckJob, Checked};
use crate::code_actions;
use crate::completion::{self, Site};
use crate::error::LspError;
use crate::folding;
use crate::formatting;
use crate::hover;
use crate::inlay_hints;
use crate::navigation;
use crate::rename;
use crate::semantic_tokens;
use crate::signature_help;
use crate::state::State;
use crate::symbols;
use crate::uri;
use crossbeam_channel::{select, unbounded, Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
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
use std::path::PathBuf;
use std::thread;

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
    serve_with(connection, catalog, None)
}

/// `serve`, showing the cache state of bindings read from `cache`.
pub fn serve_with(
    connection: &Connection,
    catalog: &dyn Catalog,
    cache: Option<&dyn CacheStateProvider>,
) -> Result<(), LspError> {
    let (id, params) = connection.initialize_start()?;
    let result = serde_json::json!({
        "capabilities": capabilities::server_capabilities(),
        "serverInfo": { "name": "pipe-lsp", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result)?;
    let refresh_hints = params
        .pointer("/capabilities/workspace/inlayHint/refreshSupport")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (jobs, job_rx) = unbounded::<CheckJob>();
    let (done_tx, checked) = unbounded::<Checked>();
    let (cache_jobs, cache_rx) = unbounded::<(String, PathBuf)>();
    let (states_tx, cache_states) = unbounded::<CacheStates>();
    thread::scope(|scope| {
        thread::Builder::new()
            .name("pipe-lsp-check".into())
            .spawn_scoped(scope, move || check_worker::serve(job_rx, done_tx, catalog))?;
        if let Some(provider) = cache {
            thread::Builder::new()
                .name("pipe-lsp-cache-state".into())
                .spawn_scoped(scope, move || {
                    read_cache_states(provider, cache_rx, states_tx)
                })?;
        }
        let mut server = Server {
            conn: connection,
            state: State::new(catalog),
            jobs,
            checked,
            cache_jobs: cache.map(|_| cache_jobs),
            cache_states,
            refresh_hints,
            next_request: 0,
            deferred: Vec::new(),
        };
        // Dropping the server closes the job channels, which ends the workers.
        server.main_loop()
    })
}

/// The cache states of one open document, read by the cache-state worker.
struct CacheStates {
    name: String,
    states: Result<FileStates, String>,
}

/// The cache-state worker: reads each asked file's states (the newest request
/// per file when several are queued) until the channel closes.
fn read_cache_states(
    provider: &dyn CacheStateProvider,
    asked: Receiver<(String, PathBuf)>,
    done: Sender<CacheStates>,
) {
    while let Ok(first) = asked.recv() {
        let mut queue = std::collections::BTreeMap::new();
        for (name, path) in std::iter::once(first).chain(asked.try_iter()) {
            queue.insert(name, path);
        }
        for (name, path) in queue {
            let read = panic::catch_unwind(AssertUnwindSafe(|| provider.states(&path)));
            let states = read.unwrap_or_else(|_| Err("reading the cache state failed".into()));
            if done.send(CacheStates { name, states }).is_err() {
                return;
            }
        }
    }
}

struct Server<'a> {
    conn: &'a Connection,
    state: State<'a>,
    jobs: Sender<CheckJob>,
    checked: Receiver<Checked>,
    /// `None` when no provider was given: no cache states are shown.
    cache_jobs: Option<Sender<(String, PathBuf)>>,
    cache_states: Receiver<CacheStates>,
    /// Whether the client re-asks for inlay hints when told to.
    refresh_hints: bool,
    next_request: u64,
    /// Completions waiting for the check of their document's newest text.
    deferred: Vec<Request>,
}

impl Server<'_> {
    fn main_loop(&mut self) -> Result<(), LspError> {
        loop {
            select! {
                recv(self.conn.receiver) -> msg => {
                    let Ok(msg) = msg else { return Ok(()) };
                    if self.on_message(msg)? {
                        return Ok(());
                    }
                }
                recv(self.checked) -> done => {
                    if let Ok(done) = done {
                        for params in self.state.install(done) {
                            self.publish(params)?;
                        }
                    }
                }
                recv(self.cache_states) -> read => {
                    if let Ok(read) = read {
                        self.on_cache_states(read)?;
                    }
                }
            }
            if self.conn.receiver.is_empty() && self.state.has_dirty() {
                for job in self.state.take_jobs() {
                    // The worker only stops when this loop ends.
                    let _ = self.jobs.send(job);
                }
            }
            self.answer_deferred()?;
        }
    }

    /// Whether `request` must wait for the check of its document's newest text.
    fn must_wait(&self, request: &Request) -> bool {
        if request.method != req::Completion::METHOD {
            return false;
        }
        let uri = request.params.pointer("/textDocument/uri").cloned();
        let Some(uri) = uri.and_then(|u| serde_json::from_value::<lsp_types::Uri>(u).ok()) else {
            return false;
        };
        self.state.is_stale(&uri::name_of(&uri))
    }

    /// Answers the put-aside requests whose document is now checked.
    fn answer_deferred(&mut self) -> Result<(), LspError> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.deferred);
        for request in waiting {
            if self.must_wait(&request) {
                self.deferred.push(request);
            } else {
                self.on_request(request)?;
            }
        }
        Ok(())
    }

    /// Handles one client message; `true` when the server must stop.
    fn on_message(&mut self, msg: Message) -> Result<bool, LspError> {
        match msg {
            Message::Request(request) => {
                if self.conn.handle_shutdown(&request)? {
                    return Ok(true);
                }
                if self.must_wait(&request) {
                    self.deferred.push(request);
                } else {
                    self.on_request(request)?;
                }
            }
            Message::Notification(n) if n.method == note::Exit::METHOD => return Ok(true),
            Message::Notification(n) => self.on_notification(n)?,
            Message::Response(_) => {}
        }
        Ok(false)
    }

    fn on_cache_states(&mut self, read: CacheStates) -> Result<(), LspError> {
        if self.state.documents.get(&read.name).is_none() {
            return Ok(());
        }
        self.state.cache_states.insert(read.name, read.states);
        if !self.refresh_hints {
            return Ok(());
        }
        self.next_request += 1;
        let id = RequestId::from(format!("pipe-lsp-{}", self.next_request));
        let refresh = Request::new(id, req::InlayHintRefreshRequest::METHOD.to_string(), ());
        self.send(refresh.into())
    }

    /// Asks the cache-state worker for the states of the open document `uri`.
    fn read_cache_states(&self, uri: &lsp_types::Uri) {
        let Some(jobs) = &self.cache_jobs else {
            return;
        };
        let name = uri::name_of(uri);
        // The worker only stops when this loop ends.
        let _ = jobs.send((name.clone(), PathBuf::from(name)));
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
                self.read_cache_states(&doc.uri);
                self.state.open(doc.uri, doc.version, doc.text);
                Some(Vec::new())
            }
            note::DidSaveTextDocument::METHOD => {
                let p: lsp_types::DidSaveTextDocumentParams =
                    serde_json::from_value(n.params).ok()?;
                self.read_cache_states(&p.text_document.uri);
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
            req::CodeActionRequest::METHOD => {
                self.on::<req::CodeActionRequest>(request, Self::code_actions)
            }
            req::InlayHintRequest::METHOD => {
                self.on::<req::InlayHintRequest>(request, Self::inlay_hints)
            }
            req::WorkspaceSymbolRequest::METHOD => {
                self.on::<req::WorkspaceSymbolRequest>(request, Self::workspace_symbols)
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

    fn publish_all(&self, all: Vec<PublishDiagnosticsParams>) -> Handled<()> {
        for params in all {
            self.publish(params)
                .map_err(|e| RequestError::new(ErrorCode::InternalError, e.to_string()))?;
        }
        Ok(())
    }

    /// The document's name once it has an analysis (checked here only when it
    /// has none yet); the analysis may be of an older text.
    fn analysed(&mut self, uri: &lsp_types::Uri) -> Handled<String> {
        let name = uri::name_of(uri);
        let published = self.state.ensure(&name);
        self.publish_all(published)?;
        if self.state.get(&name).is_none() {
            return Err(RequestError::failed(format!(
                "{name} is not open or could not be checked"
            )));
        }
        Ok(name)
    }

    /// The document's name once its analysis is of its newest text (checked
    /// here if not), for requests whose answer edits the text.
    fn fresh(&mut self, uri: &lsp_types::Uri) -> Handled<String> {
        let name = uri::name_of(uri);
        let published = self.state.refresh(&name);
        self.publish_all(published)?;
        self.analysed(uri)
    }

    /// Every open document up to date, for requests that look across files.
    fn fresh_all(&mut self) -> Handled<()> {
        let published = self.state.refresh_all();
        self.publish_all(published)
    }

    /// The name and byte offset of a position in the newest text.
    fn position(&mut self, at: &TextDocumentPositionParams) -> Handled<(String, usize)> {
        let name = self.analysed(&at.text_document.uri)?;
        let doc = self
            .state
            .documents
            .get(&name)
            .ok_or_else(|| RequestError::failed("the document is not open"))?;
        Ok((name.clone(), doc.index.offset(&doc.text, at.position)))
    }

    /// The name and byte offset of a position in the text the last analysis
    /// checked, for requests answered from that analysis's spans.
    fn checked_position(&mut self, at: &TextDocumentPositionParams) -> Handled<(String, usize)> {
        let name = self.analysed(&at.text_document.uri)?;
        let (doc, _) = self
            .state
            .checked(&name)
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
        let (name, offset) = self.checked_position(&p.text_document_position_params)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
            return Ok(None);
        };
        let cache = self.state.cache_states.get(&name);
        Ok(hover::hover(
            doc,
            analysis,
            self.state.catalog,
            cache,
            offset,
        ))
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
        let (name, offset) = self.checked_position(&p.text_document_position_params)?;
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
        self.fresh(&p.text_document.uri)?;
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
        let name = self.analysed(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
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
        let name = self.analysed(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
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
        let name = self.analysed(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
            return Ok(None);
        };
        let tokens = semantic_tokens::range(doc, analysis, p.range);
        Ok(Some(lsp_types::SemanticTokensRangeResult::Tokens(tokens)))
    }

    fn folding_ranges(
        &mut self,
        p: lsp_types::FoldingRangeParams,
    ) -> Handled<Option<Vec<lsp_types::FoldingRange>>> {
        let name = self.analysed(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
            return Ok(None);
        };
        Ok(Some(folding::folding_ranges(doc, analysis)))
    }

    fn code_actions(
        &mut self,
        p: lsp_types::CodeActionParams,
    ) -> Handled<Option<lsp_types::CodeActionResponse>> {
        let name = self.fresh(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.get(&name) else {
            return Ok(None);
        };
        let span = doc.index.span(&doc.text, p.range);
        let actions = code_actions::quick_fixes(doc, analysis, self.state.catalog, span);
        Ok(Some(actions))
    }

    fn inlay_hints(
        &mut self,
        p: lsp_types::InlayHintParams,
    ) -> Handled<Option<Vec<lsp_types::InlayHint>>> {
        let name = self.analysed(&p.text_document.uri)?;
        let Some((doc, analysis)) = self.state.checked(&name) else {
            return Ok(None);
        };
        let span = doc.index.span(&doc.text, p.range);
        let cache = self.state.cache_states.get(&name);
        Ok(Some(inlay_hints::hints(doc, analysis, cache, span)))
    }

    fn workspace_symbols(
        &mut self,
        p: lsp_types::WorkspaceSymbolParams,
    ) -> Handled<Option<lsp_types::WorkspaceSymbolResponse>> {
        let found = symbols::workspace_symbols(&self.state, &p.query);
        Ok(Some(lsp_types::WorkspaceSymbolResponse::Flat(found)))
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
