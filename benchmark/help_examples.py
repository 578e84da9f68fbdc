"""The examples that end a command's `--help` (`iacbench COMMAND --help`), kept as written."""

from __future__ import annotations

import argparse
from typing import Any


def examples(*lines: str) -> dict[str, Any]:
    """Keyword arguments for `ArgumentParser` or `add_parser`: an epilog of example command
    lines, printed with their line breaks (RawDescriptionHelpFormatter)."""
    return {
        "epilog": "examples:\n" + "\n".join(f"  {line}" for line in lines),
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
