"""Bedrock API keys (`AWS_BEARER_TOKEN_BEDROCK`): a botocore that knows them signs with the key
instead of the AWS credentials, and only over HTTPS. The provider says which it uses, needs no
AWS keys beside an API key, refuses a plain-HTTP endpoint at start in one line, and never lets
the key reach a message. A botocore that predates them signs with SigV4 whatever is set."""

from __future__ import annotations

from pathlib import Path

import botocore
import botocore.session
import pytest

from benchmark.config import ConfigError
from benchmark.models.bedrock import BEARER_AUTH, BEARER_ENV, BedrockModel
from benchmark.runner.factory import create_model
from tests.loopback import Fault
from tests.loopback_tls import TlsFiles
from tests.test_bedrock import AWS_CREDENTIALS, MODEL, REGION, call, call_error, isolate_aws
from tests.test_config import settings_for

API_KEY = "bedrock-api-key-FAKE0123456789abcdefghij"
KNOWS_API_KEYS = BEARER_AUTH in (
    botocore.session.get_session().get_service_model("bedrock-runtime").metadata.get("auth") or []
)
needs_api_keys = pytest.mark.skipif(
    not KNOWS_API_KEYS, reason=f"botocore {botocore.__version__} signs Bedrock with SigV4 only"
)


def trusting(tls: TlsFiles) -> dict[str, str]:
    """The environment in which botocore trusts the loopback server's certificate."""
    return {"AWS_CA_BUNDLE": str(tls.cert)}


@needs_api_keys
def test_an_api_key_alone_signs_over_https_and_is_scrubbed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_tls: TlsFiles, loopback
) -> None:
    # no AWS keys at all
    isolate_aws(monkeypatch, tmp_path, **trusting(loopback_tls), **{BEARER_ENV: API_KEY})
    server = loopback(
        ["ok"], faults={1: Fault(400, message=f"bad key {API_KEY}")}, tls=loopback_tls
    )
    model = BedrockModel(MODEL, region=REGION, endpoint_url=server.url, timeout_s=10.0)
    assert model.auth == "api_key" and server.url.startswith("https://")
    assert call(model).text == "ok"
    assert server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"
    # the server echoes the key back in its error
    error = call_error(BedrockModel(MODEL, region=REGION, endpoint_url=server.url, timeout_s=10.0))
    assert "bad key ***" in str(error) and API_KEY not in str(error)


@needs_api_keys
def test_an_api_key_with_a_plain_http_endpoint_is_refused_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path, **AWS_CREDENTIALS, **{BEARER_ENV: API_KEY})
    settings = settings_for(
        f"model.id=bedrock/{MODEL}",
        "model.providers.bedrock.endpoint_url=http://127.0.0.1:9",
        "cache.enabled=false",
    )
    with pytest.raises(ConfigError) as info:
        create_model(settings, {}, None)
    message = str(info.value)
    assert message.startswith("config error at 'model.providers.bedrock.endpoint_url': ")
    assert "http://127.0.0.1:9 is plain HTTP" in message and BEARER_ENV in message
    assert "\n" not in message and API_KEY not in message


def test_aws_credentials_sign_with_sigv4_when_no_api_key_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback_tls: TlsFiles, loopback
) -> None:
    isolate_aws(monkeypatch, tmp_path, **trusting(loopback_tls), **AWS_CREDENTIALS)
    server = loopback(["ok"], tls=loopback_tls)
    model = BedrockModel(MODEL, region=REGION, endpoint_url=server.url, timeout_s=10.0)
    assert model.auth == "sigv4" and call(model).text == "ok"
    assert server.requests[0].headers["authorization"].startswith("AWS4-HMAC-SHA256 ")


@pytest.mark.skipif(KNOWS_API_KEYS, reason=f"botocore {botocore.__version__} reads API keys")
def test_a_botocore_without_api_keys_signs_with_sigv4_whatever_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, loopback
) -> None:
    isolate_aws(monkeypatch, tmp_path, **AWS_CREDENTIALS, **{BEARER_ENV: API_KEY})
    server = loopback(["ok"])  # plain HTTP is fine: no bearer token is ever sent
    model = BedrockModel(MODEL, region=REGION, endpoint_url=server.url, timeout_s=10.0)
    assert model.auth == "sigv4" and call(model).text == "ok"
    assert API_KEY not in str(server.requests[0].headers)
