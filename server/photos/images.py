"""Turning an uploaded file into a safe, small JPEG (or refusing it with a reason).

The upload is decoded fully by Pillow, turned upright (EXIF orientation), flattened
onto white, downscaled to fit ``MAX_SIDE`` (a document such as a
membership card: ``DOCUMENT_MAX_SIDE``) and re-encoded: nothing of the original
file — EXIF, GPS, comments, trailing data — survives.

The work runs off the event loop (``process_off_loop``) on one worker thread shared by
the process (Pillow releases the GIL while it decodes and resamples), so a large image
delays only the uploads queued behind it, never other requests. The line is bounded:
at most ``MAX_IN_LINE`` uploads wait or run at once, ``MAX_PER_UPLOADER`` of them one
person's, and an upload beyond that is answered at once with "try again" (``PhotoBusy``)
— a member firing a hundred large images holds neither a hundred uploads in memory nor
everyone else's photo behind them for minutes. Images with more
pixels than a phone camera makes are refused before they are decoded: a JPEG is decoded
at a reduced scale (libjpeg's draft mode), a PNG has no such shortcut and a lower limit.
"""

from __future__ import annotations

import asyncio
import io
import threading
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SIDE = 480
# A membership card photographed for the office: the card rarely fills the frame, and its
# number is small print, so the office gets more pixels than a face needs.
DOCUMENT_MAX_SIDE = 1600
MAX_PIXELS = 50_000_000  # a 48-megapixel phone photo; Pillow's bomb guard is 89 million
# A PNG is decoded in full (no reduced-scale shortcut): about half a second and 150 MB for
# a 6000 × 6000 one, on the photo thread. Enough for a camera-sized screenshot or scan.
MAX_PNG_PIXELS = 40_000_000
ACCEPTED_FORMATS = ("JPEG", "PNG")  # phone MPO files open as JPEG
JPEG_QUALITY = 82
MAX_IN_LINE = 8  # uploads waiting for the photo thread or on it
MAX_PER_UPLOADER = 2


class PhotoRefused(ValueError):
    """The upload is not an acceptable photo; the message says why, for the user."""


class PhotoBusy(PhotoRefused):
    """Too many uploads are being processed: the same one may be sent again shortly."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="photo")
# Uploads waiting for the photo thread or on it, in all and by uploader. An upload
# leaves the line when its work ends, not when its request does: a client that hangs up
# does not take back the thread's time.
_in_line: Counter[object] = Counter()
_line_lock = threading.Lock()
BUSY = "Many photos are being processed just now. Send it again in a minute."


async def process_off_loop(
    upload: bytes, max_side: int = MAX_SIDE, *, uploader: object = None
) -> Photo:
    """``process`` on the photo thread: the event loop keeps serving meanwhile. Refused
    with ``PhotoBusy`` when the line is full, or holds ``uploader``'s share already."""
    with _line_lock:
        if _in_line.total() >= MAX_IN_LINE or (
            uploader is not None and _in_line[uploader] >= MAX_PER_UPLOADER
        ):
            raise PhotoBusy(BUSY)
        _in_line[uploader] += 1
    work = _WORKER.submit(process, upload, max_side)
    work.add_done_callback(lambda _: _leave_line(uploader))
    return await asyncio.wrap_future(work)


def _leave_line(uploader: object) -> None:
    with _line_lock:
        _in_line[uploader] -= 1
        if not _in_line[uploader]:
            del _in_line[uploader]


def process(upload: bytes, max_side: int = MAX_SIDE) -> Photo:
    if not upload:
        raise PhotoRefused("Choose a photo to upload.")
    if len(upload) > MAX_UPLOAD_BYTES:
        raise PhotoRefused("The photo is larger than 5 MB. Choose a smaller one.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(upload), formats=list(ACCEPTED_FORMATS))
            limit = MAX_PIXELS if image.format == "JPEG" else MAX_PNG_PIXELS
            if image.width * image.height > limit:
                raise PhotoRefused("The photo has too many pixels. Choose a smaller one.")
            if image.format == "JPEG":
                image.draft("RGB", (max_side * 2, max_side * 2))  # decode at 1/2 … 1/8 scale
            image.load()
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused("This file is not a JPEG or PNG photo.") from None
    except (OSError, ValueError, SyntaxError):
        raise PhotoRefused("This photo is damaged or incomplete and could not be read.") from None
    upright = ImageOps.exif_transpose(image) or image
    # Downscale first, then flatten: a large PNG is never copied at full size more than once.
    if upright.mode in {"RGBA", "LA", "P", "PA"}:
        rgba = upright if upright.mode == "RGBA" else upright.convert("RGBA")
        rgba.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # alpha-aware
        upright = Image.new("RGB", rgba.size, (255, 255, 255))
        upright.paste(rgba, mask=rgba.getchannel("A"))
    else:
        upright = upright if upright.mode == "RGB" else upright.convert("RGB")
        upright.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    # A fresh image holds only pixels: no info dict (comments, ICC, EXIF) to carry over.
    clean = Image.new("RGB", upright.size)
    clean.paste(upright)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return Photo(out.getvalue(), clean.width, clean.height)
