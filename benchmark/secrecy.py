"""What counts as a secret, and how one is kept out of what the harness saves (pure functions).

Three kinds are told apart:

- a *secret-like key*: a config key or environment variable whose last words name a credential
  (`api_key`, `secret`, `token`, `password`, `credentials`, `access_key`...). Whole words
  only: `max_tokens`, `cached_tokens` and `api_key_env` (the *name* of a variable) are not.
- a *key-like value*: text shaped like a provider key (OpenAI `sk-`/`sk-proj-`, Anthropic
  `sk-ant-`, AWS access key ids `AKIA`/`ASIA`, GitHub, Google, Hugging Face, Slack tokens,
  JWTs, Bedrock API keys) or a long high-entropy token. These are refused wherever they are
  typed (benchmark/runner/secret_guard.py, ProviderConfig): the harness reads keys from the
  environment only.
- *credentials in a URL* (`https://user:pass@host`): allowed, because a server may take no
  other kind (basic auth on a proxy), so the URL with its credentials is what the calls use;
  everything the harness or Hydra saves holds `https://***@host` instead (`redact_urls`).

A `Redactor` holds the secret values of this process's environment (the provider key, AWS
credentials, any variable named like a key) and replaces them, and URL credentials, in text
a server sent back before it is stored.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from collections import Counter
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

MASK = "***"
# the last word of a key that names a credential, and the last two words that do
SECRET_WORDS = frozenset(
    {
        "apikey",
        "secret",
        "secrets",
        "token",
        "password",
        "passwd",
        "passphrase",
        "credential",
        "credentials",
        "authorization",
    }
)
SECRET_PAIRS = frozenset(
    {("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("auth", "key")}
)
# environment variables that hold secrets but are not named like one
SECRET_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
)
MIN_SECRET_CHARS = 8  # a shorter "secret" (`1`, `true`) would redact ordinary text

_NOT_WORD = r"(?<![A-Za-z0-9])"
_KEY_PATTERNS = re.compile(
    "|".join(
        _NOT_WORD + p
        for p in (
            r"sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}",  # OpenAI, Anthropic
            r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])",  # AWS access key ids
            r"ABSK[A-Za-z0-9+/=]{20,}",  # Amazon Bedrock API keys
            r"(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{30,}",  # GitHub
            r"AIza[0-9A-Za-z_-]{35}",  # Google
            r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
            r"xox[abprs]-[A-Za-z0-9-]{10,}",  # Slack
            r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",  # JWT
        )
    )
)
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_-]+")
_SEPARATORS = re.compile(r"[-_./+=]")
MIN_TOKEN_SEGMENT = 24  # a random key has a long unbroken run; model names have short words
MIN_TOKEN_ENTROPY = 3.5  # bits per character
# scheme://userinfo@ : the userinfo runs to the last @ before the path; Hydra escapes the
# colons of a sweep's job overrides (`http\://user\:pass@host`)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*\\?://)[^\s/?#'\"<>]*@")


def key_words(key: str) -> list[str]:
    """The words of a key's last segment: `model.providers.x.apiKey` -> ['api', 'key']."""
    last = re.split(r"[.\[\]/]+", key.strip().lstrip("+~").rstrip("]"))[-1]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", last).lower()
    return [w for w in re.split(r"[^a-z0-9]+", snake) if w]


def is_secret_key(key: str) -> bool:
    """Whether a config key or environment variable names a credential (whole words)."""
    words = key_words(key)
    if len(words) > 1 and words[-2] == "per":  # a rate: chars_per_token
        return False
    return bool(words) and (words[-1] in SECRET_WORDS or tuple(words[-2:]) in SECRET_PAIRS)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _high_entropy(token: str) -> bool:
    return any(
        len(part) >= MIN_TOKEN_SEGMENT
        and re.search(r"[a-z]", part) is not None
        and re.search(r"[A-Z]", part) is not None
        and re.search(r"[0-9]", part) is not None
        and _entropy(part) >= MIN_TOKEN_ENTROPY
        for part in _SEPARATORS.split(token)
    )


def looks_like_key(value: Any) -> bool:
    """Whether a value is, or holds, something shaped like a provider key or a random token."""
    if not isinstance(value, str):
        return False
    if _KEY_PATTERNS.search(value):
        return True
    return any(_high_entropy(token) for token in _TOKEN_CHARS.findall(value))


def has_url_credentials(text: str) -> bool:
    return _URL_USERINFO.search(text) is not None


def redact_urls(text: str) -> tuple[str, int]:
    """`https://user:pass@host` -> `https://***@host`, and how many were redacted."""
    return _URL_USERINFO.subn(rf"\g<scheme>{MASK}@", text)


def redact_url(text: str | None) -> str | None:
    """`redact_urls` for a single optional value (an endpoint setting)."""
    return None if text is None else redact_urls(text)[0]


def redact_command(argv: Iterable[str]) -> str:
    """A command line as one string, with the value of every secret-like or key-like
    `key=value` argument and URL credentials redacted (for a lock file or a log line)."""
    shown = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and (is_secret_key(key) or looks_like_key(value)):
            arg = f"{key}={MASK}"
        shown.append(redact_urls(arg)[0])
    return shlex.join(shown)


def scrub(value: Any) -> Any:
    """A JSON-like value with URL credentials redacted in every string (for saved files)."""
    if isinstance(value, str):
        return redact_urls(value)[0]
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def environment_secrets(
    names: Iterable[str | None] = (), environ: Mapping[str, str] | None = None
) -> list[str]:
    """The values of `names`, of the AWS credential variables and of every variable named
    like a key, longest first (so that a secret holding another is redacted whole)."""
    env = os.environ if environ is None else environ
    wanted = {n for n in names if n} | set(SECRET_ENV)
    wanted |= {n for n in env if is_secret_key(n)}
    values = {env[n] for n in wanted if len(env.get(n) or "") >= MIN_SECRET_CHARS}
    return sorted(values, key=len, reverse=True)


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values and URL credentials in text before it is stored."""

    secrets: tuple[str, ...] = ()

    @classmethod
    def from_environment(
        cls, names: Iterable[str | None] = (), environ: Mapping[str, str] | None = None
    ) -> Redactor:
        return cls(tuple(environment_secrets(names, environ)))

    def text(self, text: str) -> tuple[str, int]:
        """The text redacted, and how many secrets it held."""
        count = 0
        for secret in self.secrets:
            found = text.count(secret)
            if found:
                text = text.replace(secret, MASK)
                count += found
        text, in_urls = redact_urls(text)
        return text, count + in_urls

    def rows(self, *rows: MutableMapping[str, Any] | Iterable[MutableMapping[str, Any]]) -> int:
        """Redact every string value of these rows (dicts, or lists of dicts) in place; the
        number of secrets redacted."""
        count = 0
        for item in rows:
            for row in [item] if isinstance(item, MutableMapping) else item:
                for column, value in row.items():
                    if isinstance(value, str):
                        row[column], found = self.text(value)
                        count += found
        return count
