"""The plan: calls, tokens and cost of a sweep before any call (`make plan`, `plan=true`)."""
