"""Where and how to save results: folder, file name, format and quality (metadata is always kept)."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from enhancer.gui.library import ImageEntry

FORMAT_SUFFIXES = {"PNG": ".png", "JPEG": ".jpg", "WebP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}
LOSSY_FORMATS = frozenset({"JPEG", "WebP"})
KEEPS_ALPHA = frozenset({"PNG", "WebP", "TIFF"})


def result_file_name(entry: ImageEntry, suffix: str) -> str:
    """``<input stem>_<method>[-<preset>]_x<scale><suffix>``, e.g. ``photo_bicubic_x4.png``,
    ``photo_zssr-fast_x2.png``; a generative method's samples end ``_sample2``."""
    source = entry.root_input.image.source
    stem = source.stem if source is not None else safe_name(entry.root_input.label)
    if entry.result is None:
        return f"{stem}{suffix}"
    info = entry.result.info
    method = safe_name(info.get("method", "result"))
    if info.get("preset"):
        method += f"-{safe_name(info['preset'])}"
    action = info.get("action", "")
    scale = info.get("scale", "")
    sample = entry.label.rsplit(" · sample ", 1)[1] if " · sample " in entry.label else ""
    parts = (
        [stem, method]
        + ([action] if action and action != "upscale" else [])
        + ([f"x{scale}"] if scale else [])
        + ([f"sample{sample}"] if sample.isdigit() else [])
    )
    return "_".join(parts) + suffix


def safe_name(text: str) -> str:
    """Letters, digits, dot, dash and underscore only."""
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "image"


def free_path(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... if it is taken (Save all never overwrites)."""
    candidate, number = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        number += 1
    return candidate


class SaveDialog(QDialog):
    """One result (folder + file name) or all of them (folder only), with format and quality."""

    def __init__(
        self,
        folder: Path,
        file_name: str | None,
        format_name: str = "PNG",
        quality: int = 95,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save result" if file_name is not None else "Save all results")
        self.folder_edit = QLineEdit(str(folder))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.name_edit = QLineEdit(Path(file_name).stem if file_name else "")
        self.format_box = QComboBox()
        self.format_box.addItems(list(FORMAT_SUFFIXES))
        self.format_box.setCurrentText(format_name if format_name in FORMAT_SUFFIXES else "PNG")
        self.quality_box = QSpinBox()
        self.quality_box.setRange(1, 100)
        self.quality_box.setValue(quality)
        self.quality_box.setToolTip("JPEG and WebP quality (100 makes WebP lossless)")
        self.format_box.currentTextChanged.connect(self._on_format)
        form = QFormLayout()
        form.addRow("Folder", folder_row)
        if file_name is not None:
            form.addRow("File name", self.name_edit)
        form.addRow("Format", self.format_box)
        form.addRow("Quality", self.quality_box)
        self.note = QLabel()
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self._on_format(self.format_box.currentText())

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Save into folder", self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    def _on_format(self, name: str) -> None:
        self.quality_box.setEnabled(name in LOSSY_FORMATS)
        notes = ["ICC profile, EXIF and PNG text are kept where the format holds them."]
        if name not in KEEPS_ALPHA:
            notes.append(f"{name} has no transparency: alpha is dropped.")
        if name == "BMP":
            notes.append("BMP keeps no metadata.")
        self.note.setText(" ".join(notes))

    def folder(self) -> Path:
        return Path(self.folder_edit.text()).expanduser()

    def format_name(self) -> str:
        return self.format_box.currentText()

    def suffix(self) -> str:
        return FORMAT_SUFFIXES[self.format_name()]

    def quality(self) -> int:
        return self.quality_box.value()

    def target_path(self) -> Path:
        """Folder / file name with the chosen format's suffix."""
        name = self.name_edit.text().strip() or "result"
        stem = (
            Path(name).stem
            if Path(name).suffix.lower() in {*FORMAT_SUFFIXES.values(), ".jpeg", ".tiff"}
            else name
        )
        return self.folder() / f"{stem}{self.suffix()}"
