"""Before Qt starts: can its window-system plugin load? If not, name the missing libraries and their packages.

Qt aborts with "Could not load the Qt platform plugin" and names at most one library (often one already
installed: on a clean Debian 12 it named libxcb-cursor0 while libxcb-icccm4 and libxcb-keysyms1 were missing).
The system's loader (``ldd``) knows every missing one, so we ask it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# Debian/Ubuntu packages of the libraries Qt's xcb, wayland and offscreen plugins link against.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
}
NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def requested_platform() -> str:
    """The plugin Qt will try first: ``QT_QPA_PLATFORM`` (``xcb``, ``offscreen:opts``, ``wayland;xcb``) or xcb."""
    wanted = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    return wanted or "xcb"


def plugin_file(platform: str) -> Path | None:
    from PySide6.QtCore import QLibraryInfo

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    path = folder / f"libq{platform}.so"
    return path if path.is_file() else None


def run_loader(path: Path) -> str:
    """What the dynamic loader says of ``path``'s libraries (``ldd``); empty if it cannot say."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        done = subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout


def missing_libraries(platform: str | None = None) -> list[str]:
    """Shared libraries the platform plugin needs and the loader cannot find (Linux; elsewhere none)."""
    if not sys.platform.startswith("linux"):
        return []
    plugin = plugin_file(platform or requested_platform())
    if plugin is None:
        return []
    return list(dict.fromkeys(NOT_FOUND.findall(run_loader(plugin))))


def missing_library_report(platform: str | None = None) -> str | None:
    """The message to print when the plugin cannot load, or ``None`` when nothing is missing."""
    platform = platform or requested_platform()
    missing = missing_libraries(platform)
    if not missing:
        return None
    lines = [
        f"Enhancer cannot open a window: Qt's '{platform}' platform plugin needs libraries this system lacks:"
    ]
    packages = []
    for name in missing:
        package = DEBIAN_PACKAGES.get(name)
        lines.append(
            f"  {name}"
            + (
                f"  (Debian/Ubuntu package {package})"
                if package
                else "  (find its package: apt-file search " + name + ")"
            )
        )
        if package:
            packages.append(package)
    if packages:
        lines.append(f"On Debian/Ubuntu: sudo apt-get install {' '.join(dict.fromkeys(packages))}")
    lines.append("The command line works without them: enhancer --help")
    return "\n".join(lines)
