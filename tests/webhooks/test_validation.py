"""webhooks.validation: URLs through the SSRF guard, event filters, formats."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from webhooks import validation


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://93.184.215.14/x",
        "http:///x",
        "http://93.184.215.14:0/x",
        "http://a b/x",
        5,
        "https://[::1/x",
    ],
)
def test_malformed_urls_are_refused(url: object) -> None:
    with pytest.raises(ValidationError):
        validation.validate_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["http://[v1.fe]/hook", "https://xn--/hook", "http://xn--a/hook"])
def test_urls_the_deliverers_http_client_cannot_use_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="well-formed URL"):
        validation.validate_url(url, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://localhost/x",
    ],
)
def test_private_hosts_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValidationError, match="WAZIPER_ALLOW_PRIVATE_WEBHOOK_URLS"):
        validation.validate_url(url, allow_private=False)
    assert validation.validate_url(url, allow_private=True) == url


def test_a_public_url_is_kept_as_given() -> None:
    url = "https://93.184.215.14/hooks/u1/i2/tok3?x=1"
    assert validation.validate_url(f"  {url} ", allow_private=False) == url


def test_event_filters_name_known_events_once() -> None:
    assert validation.validate_events(["message.received", "message.received"]) == ["message.received"]
    with pytest.raises(ValidationError, match=r"'message\.recieved'"):
        validation.validate_events(["message.recieved"])
    with pytest.raises(ValidationError):
        validation.validate_events("message.received")
