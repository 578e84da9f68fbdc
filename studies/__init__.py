"""Studies that drive the runner or the analysis (they may import anything of the project):
calibrate a simulator profile from a run, validate a profile against its run, synthetic runs,
the power of `make compare`, and the catalogue's site check. `python -m studies --help`."""
