"""The app's icons, drawn here: a white map pin on the theme's blue, over a
simple grid of streets. The maskable variant keeps the pin inside the safe
zone (the middle 80 %) and fills the whole square, as launchers crop it."""

from __future__ import annotations

import functools
import io

from PIL import Image, ImageDraw

THEME = (11, 61, 145)  # #0b3d91, the theme colour of the manifest
STREETS = (60, 100, 170)
PIN = (255, 255, 255)
DOT = (255, 221, 0)
SIZES = (192, 512)


@functools.lru_cache(maxsize=8)
def icon_png(size: int, *, maskable: bool) -> bytes:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, size, size), fill=THEME)
    else:
        draw.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=THEME)
    # The grid: a few streets, so the pin stands on a map.
    for step in (0.25, 0.5, 0.75):
        at = round(size * step)
        width = max(2, size // 64)
        draw.line((at, 0, at, size), fill=STREETS, width=width)
        draw.line((0, at, size, at), fill=STREETS, width=width)
    # The pin: a circle with a point below it, inside the safe zone.
    scale = 0.6 if maskable else 0.75
    r = size * scale * 0.28
    cx, cy = size / 2, size / 2 - r * 0.45
    draw.polygon(
        [(cx - r * 0.8, cy + r * 0.55), (cx + r * 0.8, cy + r * 0.55), (cx, cy + r * 2.0)],
        fill=PIN,
    )
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=PIN)
    draw.ellipse((cx - r * 0.45, cy - r * 0.45, cx + r * 0.45, cy + r * 0.45), fill=DOT)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
