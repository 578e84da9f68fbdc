"""`python -m benchmark`: the `iacbench` command (benchmark/cli.py), for an environment
without the console script on its PATH."""

import sys

from benchmark.cli import main

sys.exit(main())
