"""The simulator's CDK side (NOT an LLM): for a `cdk-python` problem the simulated model
writes a CDK app in Python from the problem's reference app, with mistakes at every stage.

| module | job |
| --- | --- |
| `mutation.py` | a mistake: its kind, the rule it raises, the lines it replaces |
| `sites.py` | where each kind of mistake can go on a reference app (`ast`), and its stage |
| `grants.py` | where a missing permission can go, and which intent checks notice it |
| `edits.py` | an app rendered from the reference and its mistakes; decoded back |
| `behaviour.py` | hand-set rates (a profile's `cdk:` section): first draw, repair |
| `author.py` | one call's app from the chain's recorded state (`SimulatedModel` uses it) |
"""
