"""How a `harness` command runs: settings from the environment, its errors caught here, once,
and told in one line with the exit code they carry."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace

from rich.console import Console

from harness import interrupts, provider
from harness.errors import EXIT_BAD_INPUT, HarnessError
from harness.settings import Settings

EXIT_INTERRUPTED = 130
Command = Callable[[argparse.Namespace, Settings, Console], int]


def execute(args: argparse.Namespace) -> int:
    """Run the command the parsed `args` name (`args.func`); its exit code."""
    # No wrapping, and wide tables in logs: paths and messages stay greppable.
    console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    try:
        interrupts.install()
        settings = Settings.from_env()
        if getattr(args, "allow_egress", False):
            settings = replace(settings, allow_egress=True)
        if getattr(args, "no_reuse", False):
            settings = replace(settings, reuse_deploys=False)
        return args.func(args, settings, console)
    except HarnessError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.log_tail:
            print(exc.log_tail, file=sys.stderr)
        return exc.exit_code
    except provider.ENGINE_GONE as exc:
        print(
            f"error: the Docker engine stopped answering ({exc.__class__.__name__}); start it again, "
            "then `harness gc` removes what the run left",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except OSError as exc:  # the machine's side: a directory not writable, a full disk
        where = f": {exc.filename}" if exc.filename else ""
        print(
            f"error: {exc.strerror or exc}{where}; check that the harness may write there and the disk has room "
            "(HARNESS_CACHE_DIR, HARNESS_RUNS_DIR)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        # Runs remove their nodes in their own `finally`, before the interrupt gets here.
        name = f" ({exc.args[0]})" if isinstance(exc, interrupts.Interrupted) else ""
        print(f"interrupted{name}: any run that had started was stopped and its nodes removed", file=sys.stderr)
        return exc.exit_code if isinstance(exc, interrupts.Interrupted) else EXIT_INTERRUPTED


def progress(console: Console) -> Callable[[str], None]:
    """Progress lines as they are: Ansible's `TASK [...]` is text, never console markup."""
    return lambda line: console.print(line, markup=False, highlight=False)
