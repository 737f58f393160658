"""The pass's images, made once per process from the card app's icon.

Apple Wallet needs ``icon.png`` (29 pt: 29, 58 and 87 px) and shows ``logo.png`` at the
top left (at most 160 × 50 pt). Both are the card app's icon (``pwa/icons/icon-512.png``):
replace that file to put the organisation's mark on cards and passes alike.
"""

from __future__ import annotations

import functools
import io

from PIL import Image

from server.web.templating import ROOT

SOURCE = ROOT / "pwa" / "icons" / "icon-512.png"
SIZES = {
    "icon.png": 29,
    "icon@2x.png": 58,
    "icon@3x.png": 87,
    "logo.png": 50,
    "logo@2x.png": 100,
    "logo@3x.png": 150,
}


@functools.cache
def pass_images() -> dict[str, bytes]:
    with Image.open(SOURCE) as source:
        source.load()
        result = {}
        for name, size in SIZES.items():
            buffer = io.BytesIO()
            source.resize((size, size), Image.Resampling.LANCZOS).save(buffer, "PNG", optimize=True)
            result[name] = buffer.getvalue()
    return result
