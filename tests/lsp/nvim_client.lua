-- A real non-VS Code client for the end-to-end tests: headless Neovim (0.7+) drives the
-- CodeQuest server through its built-in LSP client and writes what it saw as JSON.
--
--   CQ_PYTHON   the interpreter that runs `-m codequest serve`
--   CQ_FOLDERS  JSON list of {name, path} workspace folders
--   CQ_CACHE    the index cache folder (an absolute path)
--   CQ_OUT      where to write the JSON report
--
-- Run: nvim --headless -u NONE -i NONE -n -c "luafile nvim_client.lua"

local report = { statuses = {}, progress = {}, messages = {} }

local function run()
  local folders = {}
  for _, folder in ipairs(vim.fn.json_decode(os.getenv("CQ_FOLDERS"))) do
    table.insert(folders, { name = folder.name, uri = vim.uri_from_fname(folder.path) })
  end

  local client_id = vim.lsp.start_client({
    name = "codequest",
    cmd = { os.getenv("CQ_PYTHON"), "-m", "codequest", "serve" },
    root_dir = vim.uri_to_fname(folders[1].uri),
    workspace_folders = folders,
    init_options = { model = "hashing", cacheDir = os.getenv("CQ_CACHE") },
    handlers = {
      ["codequest/indexStatus"] = function(_, status)
        table.insert(report.statuses, status)
      end,
      ["$/progress"] = function(err, params, ctx, config)
        table.insert(report.progress, { token = params.token, kind = params.value.kind })
        return vim.lsp.handlers["$/progress"](err, params, ctx, config)
      end,
      ["window/showMessage"] = function(_, params)
        table.insert(report.messages, params.message)
      end,
    },
    on_exit = function(code)
      report.exit_code = code
    end,
  })
  assert(client_id, "vim.lsp.start_client failed")

  local client
  local initialized = vim.wait(30000, function()
    client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized
  end, 50)
  assert(initialized, "the server did not initialize")
  report.commands = client.server_capabilities.executeCommandProvider.commands

  -- Wait until every folder is indexed, asking the server (codequest.status).
  local ready = false
  for _ = 1, 600 do
    local reply = client.request_sync("workspace/executeCommand", { command = "codequest.status" }, 5000)
    if reply and reply.result then
      report.status = reply.result
      ready = #reply.result.folders > 0
      for _, folder in ipairs(reply.result.folders) do
        ready = ready and folder.state == "ready"
      end
    end
    if ready then
      break
    end
    vim.wait(50)
  end
  assert(ready, "indexing did not finish")

  report.search = client.request_sync(
    "codequest/search",
    { query = "hash a password with a salt", limit = 3 },
    10000
  )
  report.symbols = client.request_sync("workspace/symbol", { query = "parse" }, 10000)
  report.bad = client.request_sync("codequest/search", { query = 42 }, 10000)

  client.stop()
  vim.wait(10000, function()
    return report.exit_code ~= nil
  end, 50)
end

local ok, err = pcall(run)
if not ok then
  report.error = tostring(err)
end
local out = io.open(os.getenv("CQ_OUT"), "w")
out:write(vim.fn.json_encode(report))
out:close()
vim.cmd(ok and "qa!" or "cquit! 1")
