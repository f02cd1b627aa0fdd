// The VS Code client for the pipe language server: starts `pipe lsp` on stdio
// for every .pipe file. All language smarts live in the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('pipe').get('server.path', 'pipe');
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [{ language: 'pipe' }],
    synchronize: {
      // Imported files edited outside VS Code: the server re-checks on these events.
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.pipe'),
    },
  };
  client = new LanguageClient('pipe', 'pipe language server', server, server, clientOptions);
  context.subscriptions.push(client);
  return client.start().catch((err) => {
    vscode.window.showErrorMessage(
      `Could not start \`${command} lsp\`: ${err.message}. Set "pipe.server.path" to the pipe binary.`
    );
  });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
