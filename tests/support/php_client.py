"""Requests exactly as Waziper's PHP client (`Whatsapp_helper.php`: wa_get_curl, wa_post_curl)
sends them: the parameters in the query string in its order (`instance_id`, then
`access_token`), PHP's `http_build_query` encoding (keys with a null value left out, a space as
`+`), a browser's headers on GETs, curl's bare defaults and a form body on POSTs. The client
never looks at the HTTP status and `json_decode`s the body, so `decoded` fails unless the body is
JSON."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

# wa_get_curl's headers, byte for byte (the Referer is the PHP app's base_url()).
PHP_GET_HEADERS = {
    "User-Agent": "Mozilla/5.0 (iPhone; U; CPU like Mac OS X; en) AppleWebKit/420.1 (KHTML, like Gecko) "
    "Version/3.0 Mobile/3B48b Safari/419.3",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,fr;q=0.8;q=0.6,en;q=0.4,ar;q=0.2",
    "Accept-Encoding": "gzip,deflate",
    "Accept-Charset": "utf-8;q=0.7,*;q=0.7",
    "Cookie": "datr=; locale=en_US; sb=; pl=n; lu=gA; c_user=; xs=; act=; presence=",
    "Referer": "https://panel.example/",
}
# wa_post_curl sets no header of its own: curl's defaults, and the form's content type.
PHP_POST_HEADERS = {"Accept": "*/*"}
FORM = "application/x-www-form-urlencoded"

# The ids of a Waziper deployment: a team token is uniqid() (13 lower-case hex), an instance id
# strtoupper(uniqid()).
TOKEN = "649ba622aa900"
INSTANCE_ID = "664461B63FB8A"


def http_build_query(params: dict[str, Any]) -> str:
    """PHP's http_build_query for flat parameters: null values left out, urlencode()'s rules."""
    return urlencode([(key, str(value)) for key, value in params.items() if value is not None])


def url(endpoint: str, params: dict[str, Any]) -> str:
    """`base + endpoint + "?" + http_build_query(params)`, the base being the site root."""
    return f"/{endpoint}?{http_build_query(params)}"


def php_get(client: Any, endpoint: str, params: dict[str, Any]) -> Any:
    return client.generic("GET", url(endpoint, params), headers=PHP_GET_HEADERS)


def php_post(client: Any, endpoint: str, params: dict[str, Any], data: dict[str, Any]) -> Any:
    return client.generic(
        "POST", url(endpoint, params), http_build_query(data), content_type=FORM, headers=PHP_POST_HEADERS
    )


def decoded(response: Any) -> Any:
    """What PHP's json_decode makes of the body: it must be JSON, whatever the HTTP status."""
    content_type = response.get("Content-Type", "")
    assert content_type.startswith("application/json"), (response.status_code, content_type)
    return json.loads(response.content)
