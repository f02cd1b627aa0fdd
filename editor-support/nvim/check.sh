#!/usr/bin/env bash
# Headless Neovim check of the editor snippet: opens a broken .pipe file with
# pipe.lua loaded and asserts that the diagnostics of `pipe lsp` reach the
# buffer (vim.diagnostic.get). Usage: editor-support/nvim/check.sh [PIPE_BINARY]
# (default: target/debug/pipe, built by cargo beforehand). Installs Debian's
# neovim package when nvim is missing.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
pipe_bin="$(realpath "${1:-$repo/target/debug/pipe}")"
[ -x "$pipe_bin" ] || { echo "check.sh: no pipe binary at $pipe_bin; build it with cargo build -p pipe-cli" >&2; exit 2; }

if ! command -v nvim >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Line 2 names an undefined binding: the checker reports it (E-code unknown name).
printf 'let a = 1\nlet b = nope\nlet c = [a, b]\n' > "$work/broken.pipe"

cat > "$work/init.lua" <<LUA
vim.g.pipe_lsp_cmd = { '$pipe_bin', 'lsp' }
dofile('$here/pipe.lua')
vim.api.nvim_create_autocmd('VimEnter', { callback = function()
  local ok = vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
  local diags = vim.diagnostic.get(0)
  local out = io.open('$work/result.txt', 'w')
  for _, d in ipairs(diags) do
    out:write(string.format('%d:%d %d %s\n', d.lnum, d.col, d.severity, (d.message:gsub('\n', ' '))))
  end
  out:close()
  vim.cmd(ok and 'qa!' or 'cquit 1')
end })
LUA

status=0
timeout 60 nvim --headless -i NONE -u "$work/init.lua" "$work/broken.pipe" || status=$?
cat "$work/result.txt" 2>/dev/null || true
if [ "$status" -ne 0 ]; then
  echo "nvim check: FAILED (no diagnostics arrived, exit $status)" >&2
  exit 1
fi
# The undefined name is on line 2 (lnum 1), columns 8..12, severity 1 (error).
if ! grep -q '^1:8 1 ' "$work/result.txt"; then
  echo "nvim check: FAILED (no error at line 2, column 9)" >&2
  exit 1
fi
echo "nvim check: 1 passed, 0 failed"
