"""The end-to-end tests' helpers live in ``lsp_helpers.py``; nothing is shared by fixture."""
