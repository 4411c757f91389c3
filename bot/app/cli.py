"""``liqwatch``: the command line's entry point (``[project.scripts]`` and
``python -m bot.app.cli``).

It parses the arguments (:mod:`bot.app.parser`), runs one subcommand
(:mod:`bot.app.subcommands`; the bot itself is composed in :mod:`bot.app.compose` and
:mod:`bot.app.serve`) and turns whatever the user can fix into one line on stderr and an
exit code ≠ 0 — never a traceback: a :class:`~bot.app.failures.Failure` (exit 2), an OS
or SQLite error nobody foresaw (exit 1), Ctrl-C (exit 130).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Sequence

from bot.app.compose import build_service, build_sources
from bot.app.failures import Failure, describe_os_error
from bot.app.parser import build_parser

__all__ = ["build_parser", "build_service", "build_sources", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    # PTB's future timedelta attributes (RetryAfter.retry_after …), so it does not warn
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    args = build_parser().parse_args(argv)
    name = "liqwatch " + " ".join(
        part for part in (args.command, getattr(args, "archive_command", None)) if part
    )
    try:
        code: int = args.func(args)
    except Failure as err:
        return _fail(name, str(err), err.code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except OSError as err:
        return _fail(name, describe_os_error(err), 1)
    except sqlite3.Error as err:
        return _fail(name, f"the storage file failed: {err}; see /status, or check the disk", 1)
    return code


def _fail(name: str, message: str, code: int) -> int:
    print(f"{name}: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
