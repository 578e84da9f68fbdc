"""`iacbench clean-cache` (`make clean-cache`): empty the persistent lint cache.

    python -m benchmark.validators.cfn_lint.clean_cache [--path FILE]

Deletes the cache file (`lint.cache_path`, default runs/.cache/lint.sqlite, or
`$IACBENCH_LINT_CACHE`), its journal and lock, and any file set aside as not a lint cache. The
response cache and the environments of other cfn-lint releases stay. Safe while nothing lints;
a process linting meanwhile carries on and starts a new file on its next run.
"""

from __future__ import annotations

import argparse
import sys

from benchmark.help_examples import examples
from benchmark.validators.cfn_lint.result_cache import DEFAULT_PATH, clean, resolve_path


def main(
    argv: list[str] | None = None,
    prog: str = "python -m benchmark.validators.cfn_lint.clean_cache",
) -> int:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0],
        **examples("iacbench clean-cache", "iacbench clean-cache --path /tmp/lint.sqlite"),
    )
    parser.add_argument(
        "--path",
        default=DEFAULT_PATH,
        type=str,
        help=f"the cache file (default: $IACBENCH_LINT_CACHE, else {DEFAULT_PATH})",
    )
    args = parser.parse_args(argv)
    target = resolve_path(args.path)
    removed = clean(target)
    print(f"lint cache {target}: emptied ({removed} entries removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
