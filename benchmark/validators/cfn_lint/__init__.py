"""cfn-lint as a validator: the warm linter, its engine, worker pools and pinned-version envs."""
