//! Why the server stopped: the protocol broke (a malformed handshake, a closed
//! channel) or stdio failed. Errors about one request never end the server; they
//! become error responses (see `server`).

#[derive(Debug, thiserror::Error)]
pub enum LspError {
    #[error("language server protocol: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    #[error("language server i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("language server: the client's connection closed while a message was being sent")]
    Disconnected,
}
