"""Every error CodeQuest raises on purpose, in one hierarchy.

:class:`CodeQuestError` is the root. :class:`UserError` and its subclasses are problems
the user can fix (a setting, a path, a model, an index, a query); everything else that
escapes is a bug. Two places turn these into what a user sees, one for each front end:

* the command line, :func:`codequest.cli.exit_status`: 2 for a :class:`UserError` (or an
  ``OSError``), 1 for anything else;
* the language server, :func:`codequest.lsp.errors.rpc_error`: ``InvalidParams`` for an
  :class:`InvalidQuery`, ``RequestFailed`` for an :class:`EncoderError`.

Several classes also derive from the built-in exception they used to be (``ValueError``,
``RuntimeError``), so code that catches those still catches them.
"""

from __future__ import annotations


class CodeQuestError(Exception):
    """The root of CodeQuest's own errors."""


class UserError(CodeQuestError):
    """A problem the user can fix; the command line prints it as one line (exit status 2)."""


class ConfigError(UserError, ValueError):
    """A setting has an invalid value."""


class InvalidQuery(UserError, ValueError):
    """A search parameter (glob, language, limit) is invalid."""


class StoreError(UserError):
    """The store on disk cannot be used; ``reason`` is one line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PrebuiltError(StoreError):
    """A prebuilt index cannot be built or used; ``reason`` is one line for the user."""


class EncoderError(UserError, RuntimeError):
    """An encoder could not be loaded or does not match the index."""


class StudentBuildError(EncoderError):
    """A shipped student fits the index's teacher, but its artifact cannot be built here.

    ``reason`` says why in a few words; ``hint`` says what would make it buildable.
    """

    def __init__(self, name: str, reason: str, hint: str) -> None:
        super().__init__(f"shipped student {name} cannot be built: {reason}")
        self.name = name
        self.reason = reason
        self.hint = hint


class ModelNotFoundError(UserError, RuntimeError):
    """No local copy of a model could be found and the hub is unavailable."""


class ClusterError(UserError, RuntimeError):
    """Ray is missing or the cluster cannot run the embedding stage."""


class UnsafeModelError(CodeQuestError, ValueError):
    """A model folder asks to run code of its own, which CodeQuest never does.

    Loading the teacher reports it as an :class:`EncoderError`; where it escapes unwrapped
    (a teacher export) the command line still counts it as an internal error, as it did
    before this hierarchy existed.
    """


class TrainingInterrupted(CodeQuestError, RuntimeError):
    """A distillation run was stopped (Ctrl-C); its checkpoint can be resumed."""


class EmbeddingCancelled(CodeQuestError):
    """An index run was cancelled while its texts were being embedded; they were not, and
    the run ends as cancelled (the next run indexes those files)."""
