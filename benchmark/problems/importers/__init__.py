"""Importers of public benchmarks as datasets: DPIaC-Eval, a generic folder, the paper's protocol.

Run `python -m benchmark.problems --help`.
"""
