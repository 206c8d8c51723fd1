"""The ``codequest`` command line: index, search, status, serve, bench, distill.

Every error is one line on stderr, never a traceback: exit status 2 for a problem the user
can fix, 1 for a bug (:func:`exit_status` is the one place that decides). ``--debug`` or
``CODEQUEST_DEBUG=1`` adds the traceback and lets third-party warnings through; without
it, the libraries' warnings and log chatter stay off the terminal and only CodeQuest's own
lines are printed. The search path imports no torch, so a warm ``codequest search`` starts
quickly.

* :mod:`.parser`: the arguments of every sub-command;
* :mod:`.commands`: index, search, status and serve;
* :mod:`.output`: progress on stderr, and the libraries kept quiet.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Sequence

from codequest.cli.output import DEBUG_ENV, debug_enabled, log_lines, one_line, quiet_libraries
from codequest.cli.parser import build_parser
from codequest.errors import UserError

EXIT_INTERNAL_ERROR = 1
EXIT_USER_ERROR = 2


def exit_status(err: BaseException) -> int:
    """2 for a problem the user can fix (a :class:`~codequest.errors.UserError`: a path, a
    setting, a model, an index; or the file system), 1 for anything else: a bug."""
    return EXIT_USER_ERROR if isinstance(err, (UserError, OSError)) else EXIT_INTERNAL_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Building the parser imports the optional sub-commands' modules: quiet from the start.
    debug = debug_enabled() or "--debug" in argv
    with quiet_libraries(debug):
        try:
            args = build_parser(argv).parse_args(argv)
            debug = debug_enabled(args)
            lines = contextlib.nullcontext() if args.command == "serve" else log_lines(debug)
            with lines:
                result: int = args.func(args)
            return result
        except KeyboardInterrupt:
            print("codequest: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            # `codequest search ... | head` closes the pipe early; that is not an error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as err:  # noqa: BLE001 - every error ends as one line, see exit_status
            status = exit_status(err)
            if debug:
                traceback.print_exc()
            if status == EXIT_USER_ERROR:
                print(f"codequest: error: {one_line(err)}", file=sys.stderr)
            else:
                hint = "" if debug else f"; run with --debug (or {DEBUG_ENV}=1) for the traceback"
                print(
                    f"codequest: internal error: {type(err).__name__}: {one_line(err)}{hint}",
                    file=sys.stderr,
                )
            return status
