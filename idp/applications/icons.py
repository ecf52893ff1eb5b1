"""Application icons: decoded and written anew, so that what is served is a picture and nothing else.

An upload may be a polyglot, a valid PNG or GIF that also carries HTML or SVG after its image data,
which a browser or a proxy sniffing the bytes could run as a page of this origin. Decoding the pixels
and encoding a new file from them alone leaves nothing of the upload but its picture: no trailing
bytes, no text chunks, no EXIF or ICC profile, no comments.

Every icon is written as PNG, whatever it came as: one lossless format every browser shows, whose
encoder here writes only the image chunks, so there is one content type to serve and nothing of an
upload's own metadata can ride along. Icons are small tiles, so the loss of JPEG's compactness is
bounded by the stored size (STORED_SIDE).
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from idp.errors import IdpError, PayloadTooLarge, UnsupportedMediaType, ValidationError
from idp.models import Icon

# The formats an upload may be; Pillow is told to try no others (it knows many, some with risky decoders).
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
CONTENT_TYPE = "image/png"

# A few KiB of PNG can declare billions of pixels (a decompression bomb); the declared size is checked
# before a single pixel is decoded. 16 megapixels decode to 64 MiB at most.
MAX_PIXELS = 16_000_000
MAX_SIDE = 8192
# What is stored: launcher tiles are small, and this bounds what one icon costs the store and each page load.
STORED_SIDE = 512

# Pillow warns rather than raises for sizes between its own limit and twice that; here such an image is
# refused like any other bomb. Set once for the process, because warnings.catch_warnings() around each
# decode changes global state and is not safe with the threads that serve requests.
warnings.simplefilter("error", Image.DecompressionBombWarning)

NOT_AN_IMAGE = "{field} must be a PNG, JPEG, GIF or WebP image"


def reencode_icon(data: bytes, *, max_bytes: int, field: str = "icon") -> Icon:
    """The icon to store for an upload: its first frame, at most STORED_SIDE on a side, as a fresh PNG.

    Refusals name the `field` (an app's `icon`, a brand's `logo`): 413 for too many bytes or pixels,
    415 for anything but the accepted formats (SVG included), 400 for an image that does not decode
    (truncated or corrupt).
    """
    if len(data) > max_bytes:
        raise PayloadTooLarge(f"{field} must be at most {max_bytes} bytes", field=field)
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as upload:
            _check_dimensions(*upload.size, field=field)
            # JPEG only: decode straight at a reduced scale, which saves memory and time.
            upload.draft("RGB", (STORED_SIDE, STORED_SIDE))
            upload.load()  # decodes every byte of the first frame: truncation and corruption show here
            mode = _pixel_mode(upload)
            # Shrunk before converting, so that a large picture is copied as few times as can be; but a
            # palette is converted first, because resizing one only picks the nearest pixels.
            picture = _first_copy(upload, mode)
            picture.thumbnail((STORED_SIDE, STORED_SIDE))
            pixels = picture.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(field) from None
    except UnidentifiedImageError:
        raise UnsupportedMediaType(NOT_AN_IMAGE.format(field=field), field=field) from None
    except IdpError:  # a refusal of our own, from the size check
        raise
    except Exception:
        # Hostile input can make a decoder fail in many ways (OSError, SyntaxError, struct.error, ...);
        # each one means the same thing here: this is not an image we can read.
        raise ValidationError(f"{field} could not be decoded: the image is truncated or corrupt", field=field) from None
    # A new image from the pixels alone: nothing of the upload's `info` (comments, profiles, EXIF) follows.
    clean = Image.frombytes(pixels.mode, pixels.size, pixels.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG")
    return Icon(CONTENT_TYPE, out.getvalue(), reencoded=True)


def _check_dimensions(width: int, height: int, *, field: str) -> None:
    if width > MAX_SIDE or height > MAX_SIDE:
        raise PayloadTooLarge(f"{field} must be at most {MAX_SIDE} pixels on each side", field=field)
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(field)


def _too_many_pixels(field: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"{field} must have at most {MAX_PIXELS} pixels", field=field)


def _first_copy(upload: Image.Image, mode: str) -> Image.Image:
    """The upload, or a converted copy where converting cannot wait until after shrinking."""
    if upload.mode in ("1", "P"):
        return upload.convert(mode)
    if upload.mode.startswith("I"):
        # 16-bit grey, scaled down to 8 bits: converting straight away would clip every value over 255.
        return upload.convert("I").point(lambda value: value / 256).convert("L")
    return upload


def _pixel_mode(image: Image.Image) -> str:
    """RGBA when the image has any transparency, else RGB: the two modes every PNG reader shows alike."""
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    return "RGBA" if has_alpha else "RGB"
