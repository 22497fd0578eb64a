"""Image analysis for uploads (pure, CPU-bound: call it in a worker thread).

Pillow is restricted to PNG/JPEG/GIF/BMP/WEBP/TIFF, so formats whose loaders shell out or are
rarely hardened (EPS via Ghostscript, PSD, …) are never even identified. Pixel count is checked
from the header before any pixel data is decoded. Thumbnails fit inside 120x100 and previews are
at most 1920 wide (never enlarged); both are JPEG with transparency flattened onto white and EXIF
orientation applied. ``mini`` is the 16x16 JPEG Mattermost sends as ``mini_preview``.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

# Damaged uploads are expected input, not a programming error: Pillow's complaints about them
# (corrupt EXIF, truncated chunks) would otherwise flood the log. Failures still raise NotImage.
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")

MAX_IMAGE_PIXELS = 7680 * 4320  # Mattermost's default FileSettings.MaxImageResolution
THUMB_BOX = (120, 100)
PREVIEW_WIDTH = 1920
MINI_SIZE = (16, 16)
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "BMP": "image/bmp",
                 "WEBP": "image/webp", "TIFF": "image/tiff"}


@dataclass
class Images:
    mime_type: str
    width: int
    height: int
    thumbnail: bytes
    preview: bytes
    mini: bytes


class NotImage(Exception):
    pass


class TooManyPixels(Exception):
    pass


def _jpeg(im: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


def analyze_image(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Images:
    """Raises NotImage (not one of the formats, or undecodable) or TooManyPixels (read from the header,
    before decoding)."""
    try:
        with Image.open(path, formats=list(IMAGE_FORMATS)) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise TooManyPixels
            mime = IMAGE_FORMATS[str(im.format)]
            im.load()
            upright = ImageOps.exif_transpose(im) or im
            rgb = _flatten(upright)
    except (TooManyPixels, Image.DecompressionBombError):  # Pillow's own guard, far above ours by default
        raise TooManyPixels from None
    except Exception as err:  # decoders fail in many ways (OSError, SyntaxError, struct.error, …)
        raise NotImage from err
    thumb = rgb.copy()
    thumb.thumbnail(THUMB_BOX, Image.Resampling.LANCZOS)
    preview = rgb
    if rgb.width > PREVIEW_WIDTH:
        preview = rgb.resize((PREVIEW_WIDTH, max(1, round(rgb.height * PREVIEW_WIDTH / rgb.width))),
                             Image.Resampling.LANCZOS)
    mini = ImageOps.fit(rgb, MINI_SIZE, Image.Resampling.LANCZOS)
    return Images(mime, rgb.width, rgb.height, _jpeg(thumb), _jpeg(preview), _jpeg(mini, 70))
