"""Deployment as a validator: CloudFormation calls, the stack ledger, the janitor (cleanup)."""
