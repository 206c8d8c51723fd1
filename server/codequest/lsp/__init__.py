"""The CodeQuest language server: a thin pygls layer over :class:`codequest.Workspace`.

``server.py`` builds the server and owns the lifecycle; each feature lives in its own
module (``search``, ``symbols``, ``commands``, ``watching``); ``indexing`` runs the engine
in a background thread and ``progress`` reports on it. The protocol is described in
``docs/ARCHITECTURE.md`` and, for users, in ``docs/lsp.md``.
"""
