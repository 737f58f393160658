"""Draws the card app icons (the PNGs in ``pwa/icons`` are committed):
``python -m server.cards.icons``."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent.parent.parent / "pwa" / "icons"
BACKGROUND = (91, 42, 134)  # the default card colour
CARD = (255, 255, 255)


def draw(size: int, *, maskable: bool) -> Image.Image:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    if maskable:  # full bleed; content inside the 80 % safe zone
        d.rectangle((0, 0, size, size), fill=BACKGROUND)
        inset = size * 0.22
    else:
        d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size * 0.18, fill=BACKGROUND)
        inset = size * 0.14
    left, right = inset, size - inset
    height = (right - left) * 0.63  # a credit-card shape
    top = (size - height) / 2
    d.rounded_rectangle((left, top, right, top + height), radius=size * 0.05, fill=CARD)
    w = right - left
    # photo square and three text lines
    d.rounded_rectangle(
        (left + w * 0.08, top + height * 0.18, left + w * 0.34, top + height * 0.82),
        radius=size * 0.02,
        fill=BACKGROUND,
    )
    for i, length in enumerate((0.5, 0.42, 0.3)):
        y = top + height * (0.25 + i * 0.22)
        d.rounded_rectangle(
            (left + w * 0.42, y, left + w * (0.42 + length), y + height * 0.1),
            radius=size * 0.01,
            fill=(180, 160, 200),
        )
    return image


def main() -> None:
    HERE.mkdir(exist_ok=True)
    draw(192, maskable=False).save(HERE / "icon-192.png")
    draw(512, maskable=False).save(HERE / "icon-512.png")
    draw(512, maskable=True).save(HERE / "maskable-512.png")
    # iOS ignores transparency: an opaque, square icon.
    draw(180, maskable=True).convert("RGB").save(HERE / "apple-touch-icon.png")


if __name__ == "__main__":
    main()
