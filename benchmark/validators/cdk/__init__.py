"""AWS CDK apps in Python: synthesized in a sandbox, their findings fed back (docs/cdk.md)."""
