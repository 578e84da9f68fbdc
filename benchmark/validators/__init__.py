"""Validators: one protocol (base.py), a suite, cfn-lint, intent checks, security scan, deploy."""
