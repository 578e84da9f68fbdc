"""Datasets: the difficulty measure, the dataset check, and importers for public benchmarks.

Run `python -m benchmark.datasets --help`. Importing this package is cheap on purpose: the
problem loader imports `benchmark.datasets.difficulty`.
"""
