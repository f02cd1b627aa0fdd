-- Neovim's built-in LSP client for .pipe files: recognises the filetype and
-- starts `pipe lsp` for every pipe buffer. Put this file on your runtimepath (or
-- `:luafile` it from init.lua). Set `vim.g.pipe_lsp_cmd = { '/path/to/pipe', 'lsp' }`
-- to use a pipe binary that is not on $PATH.
-- Works on Neovim 0.8+ (vim.lsp.start) and on Debian 12's 0.7 (start_client).

vim.filetype.add({ extension = { pipe = 'pipe' } })
-- Neovim 0.7 only uses vim.filetype.add with g:do_filetype_lua set; this works everywhere.
vim.api.nvim_create_autocmd({ 'BufRead', 'BufNewFile' }, { pattern = '*.pipe', command = 'setfiletype pipe' })

local function root_of(file)
  local dir = vim.fn.fnamemodify(file, ':p:h')
  local marker = vim.fn.finddir('.git', dir .. ';')
  if marker ~= '' then
    return vim.fn.fnamemodify(marker, ':p:h:h')
  end
  return dir
end

local function config(buf)
  return {
    name = 'pipe',
    cmd = vim.g.pipe_lsp_cmd or { 'pipe', 'lsp' },
    root_dir = root_of(vim.api.nvim_buf_get_name(buf)),
  }
end

local client_id = nil

local function attach(args)
  local buf = args.buf
  vim.bo[buf].commentstring = '# %s'
  if vim.lsp.start then
    vim.lsp.start(config(buf), { bufnr = buf })
    return
  end
  -- Neovim 0.7: one client shared by every pipe buffer.
  if client_id == nil or vim.lsp.get_client_by_id(client_id) == nil then
    client_id = vim.lsp.start_client(config(buf))
  end
  if client_id then
    vim.lsp.buf_attach_client(buf, client_id)
  end
end

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'pipe',
  callback = attach,
  desc = 'start the pipe language server',
})
