"""Render resources/icons/enhancer.svg to the PNG sizes the platforms want, plus .ico (Windows) and .icns (macOS).

``python packaging/make_icons.py`` (after editing the SVG; the outputs are committed beside it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512)


def render_pngs(svg: Path) -> dict[int, Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    written = {}
    for size in PNG_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        path = ICONS / f"enhancer-{size}.png"
        if not image.save(str(path)):
            raise SystemExit(f"could not write {path}")
        written[size] = path
    return written


def main() -> int:
    from PIL import Image

    pngs = render_pngs(ICONS / "enhancer.svg")
    largest = Image.open(pngs[max(PNG_SIZES)])
    # Each size from its own rendering (small sizes stay crisp), not one image scaled down by Pillow.
    ico_frames = [Image.open(pngs[s]) for s in ICO_SIZES]
    ico_frames[-1].save(
        ICONS / "enhancer.ico", sizes=[(s, s) for s in ICO_SIZES], append_images=ico_frames[:-1]
    )
    largest.save(ICONS / "enhancer.icns", append_images=[Image.open(pngs[s]) for s in ICNS_SIZES[:-1]])
    for path in sorted(ICONS.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
