"""A QR string as the `data:image/png;base64,…` URI Waziper's front ends put straight into <img>."""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import qrcode
from qrcode.constants import ERROR_CORRECT_M

DATA_URI_PREFIX = "data:image/png;base64,"


@lru_cache(maxsize=256)
def qr_data_uri(text: str) -> str:
    """Render `text` as a PNG QR code. Cached: clients poll /get_qrcode for the same code many
    times within its lifetime, and rendering costs far more than the request around it."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=2)
    code.add_data(text)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer, format="PNG")
    return DATA_URI_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")
