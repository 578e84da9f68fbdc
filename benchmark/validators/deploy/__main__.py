"""`python -m benchmark.validators.deploy cleanup ...`: the deploy janitor (cleanup.py)."""

import sys

from benchmark.validators.deploy.cleanup import main

sys.exit(main())
