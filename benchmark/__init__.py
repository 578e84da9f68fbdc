"""IaC feedback-loop benchmark: datasets -> problem -> model -> loop -> validators -> records."""

__version__ = "0.1.0"
