"""The `--help` formatter of every command line: each option's help ends with its default.

Like argparse's ArgumentDefaultsHelpFormatter, minus the noise: defaults that say nothing
(None, an off switch, empty) are not shown. Imports nothing from the project.
"""

from __future__ import annotations

import argparse
from typing import Any


class DefaultsHelpFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "%(default)" in text or not shows_default(action.default):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def shows_default(default: Any) -> bool:
    """Whether a default is worth printing: not None, False, empty or suppressed (0 is shown)."""
    if default is None or default is False or default == argparse.SUPPRESS:
        return False
    return not (isinstance(default, str | list | tuple) and len(default) == 0)


class DocumentedParser(argparse.ArgumentParser):
    """An ArgumentParser whose help (and its subcommands' help) shows defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", DefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
