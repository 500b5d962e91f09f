"""Settings remembered between runs (device, last method and its options, output folder, tile size, ...)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

MAX_RECENT_FILES = 10
DEFAULT_TILE_SIZE = 512


class AppSettings:
    """Typed access to ``QSettings``; pass ``path`` to keep them in one INI file (tests, screenshots)."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            self._store = QSettings("Enhancer", "Enhancer")
        else:
            self._store = QSettings(str(path), QSettings.Format.IniFormat)

    def _text(self, key: str, default: str = "") -> str:
        value = self._store.value(key, default)
        return default if value is None else str(value)

    def _int(self, key: str, default: int) -> int:
        try:
            return int(self._store.value(key, default))
        except (TypeError, ValueError):
            return default

    @property
    def theme(self) -> str:
        return self._text("view/theme", "system")

    @theme.setter
    def theme(self, value: str) -> None:
        self._store.setValue("view/theme", value)

    @property
    def device(self) -> str:
        return self._text("run/device", "auto")

    @device.setter
    def device(self, value: str) -> None:
        self._store.setValue("run/device", value)

    @property
    def tile_size(self) -> int:
        return self._int("run/tile_size", DEFAULT_TILE_SIZE)

    @tile_size.setter
    def tile_size(self, value: int) -> None:
        self._store.setValue("run/tile_size", int(value))

    @property
    def last_method(self) -> str:
        return self._text("run/method")

    @last_method.setter
    def last_method(self, method_id: str) -> None:
        self._store.setValue("run/method", method_id)

    def scale_for(self, method_id: str) -> int | None:
        value = self._int(f"scales/{method_id}", 0)
        return value or None

    def set_scale_for(self, method_id: str, scale: int) -> None:
        self._store.setValue(f"scales/{method_id}", int(scale))

    def options_for(self, method_id: str) -> dict[str, Any]:
        """The options last used with a method (an empty dict when none or unreadable)."""
        try:
            values = json.loads(self._text(f"options/{method_id}", "{}"))
        except json.JSONDecodeError:
            return {}
        return values if isinstance(values, dict) else {}

    def set_options_for(self, method_id: str, values: dict[str, Any]) -> None:
        self._store.setValue(f"options/{method_id}", json.dumps(values))

    @property
    def output_folder(self) -> Path | None:
        text = self._text("save/folder")
        return Path(text) if text else None

    @output_folder.setter
    def output_folder(self, folder: Path) -> None:
        self._store.setValue("save/folder", str(folder))

    @property
    def model_folder(self) -> Path | None:
        """Where the user's own models live, when chosen in the app (else the default user data folder)."""
        text = self._text("models/folder")
        return Path(text) if text else None

    @model_folder.setter
    def model_folder(self, folder: Path) -> None:
        self._store.setValue("models/folder", str(folder))

    @property
    def save_format(self) -> str:
        return self._text("save/format", "PNG")

    @save_format.setter
    def save_format(self, value: str) -> None:
        self._store.setValue("save/format", value)

    @property
    def save_quality(self) -> int:
        return self._int("save/quality", 95)

    @save_quality.setter
    def save_quality(self, value: int) -> None:
        self._store.setValue("save/quality", int(value))

    @property
    def recent_files(self) -> list[Path]:
        try:
            names = json.loads(self._text("files/recent", "[]"))
        except json.JSONDecodeError:
            return []
        return [Path(name) for name in names if isinstance(name, str)]

    def add_recent_file(self, path: Path) -> None:
        """Put ``path`` first in the recent list (no duplicates, at most ``MAX_RECENT_FILES``)."""
        path = path.resolve()
        paths = [path] + [p for p in self.recent_files if p != path]
        self._store.setValue("files/recent", json.dumps([str(p) for p in paths[:MAX_RECENT_FILES]]))

    def clear_recent_files(self) -> None:
        self._store.setValue("files/recent", "[]")

    @property
    def compare_mode(self) -> str:
        return self._text("view/compare_mode", "side-by-side")

    @compare_mode.setter
    def compare_mode(self, mode: str) -> None:
        self._store.setValue("view/compare_mode", mode)

    @property
    def pane_count(self) -> int:
        return min(max(self._int("view/pane_count", 2), 2), 4)

    @pane_count.setter
    def pane_count(self, count: int) -> None:
        self._store.setValue("view/pane_count", int(count))

    @property
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """Saved (geometry, dock layout) of the main window, or ``None`` each."""
        return self._store.value("window/geometry"), self._store.value("window/state")

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._store.setValue("window/geometry", geometry)
        self._store.setValue("window/state", state)

    def sync(self) -> None:
        self._store.sync()
