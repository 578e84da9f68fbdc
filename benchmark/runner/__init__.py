"""The runner: what turns a configured job into recorded attempts."""
