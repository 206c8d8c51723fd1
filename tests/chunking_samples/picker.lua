---@tag picker
local actions = require("scope.actions")
local utils = require("scope.utils")

local Picker = {}
Picker.__index = Picker

--- Creates a new picker.
---@param opts table: options
---@return Picker
function Picker:new(opts)
  opts = opts or {}
  local obj = setmetatable({
    prompt_title = opts.prompt_title or "Prompt",
    results = {},
  }, self)
  return obj
end

function Picker:find()
  local bufnr = vim.api.nvim_create_buf(false, true)
  self.prompt_bufnr = bufnr
  return bufnr
end

local function entry_maker(line)
  return { value = line, display = line, ordinal = line }
end

Picker.close = function(self)
  vim.api.nvim_buf_delete(self.prompt_bufnr, { force = true })
end

local M = {}

M.pickers = {
  files = function(opts)
    return Picker:new(opts):find()
  end,
}

function M.setup(config)
  utils.merge(M, config or {})
end

local on_attach = function(bufnr)
  actions.select_default:replace(function()
    return true
  end)
end

function utils.nested.deep.fn() end

return M
