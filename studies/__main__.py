"""`python -m studies calibrate|validate|synthesize|power|sites`."""

from studies.cli import main

main()
