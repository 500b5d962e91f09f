"""One editor widget per method option, generated from its ``OptionInfo`` (type, default, limits, choices).

int → spin box, float → decimal spin box, bool → check box, choices → drop-down, str → line edit;
an optional option (``X | None``) gets an "auto" box that hands ``None`` to the method; a text option
named ``*_file`` gets a Browse button.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from enhancer.methods.registry import OptionInfo

INT_LIMIT = 2_000_000_000  # QSpinBox holds a C int
FLOAT_LIMIT = 1e12
MAX_DECIMALS = 8
AUTO_TEXT = "preset"  # what an "auto" number box shows: the method (its preset) picks the value


class _WheelNeedsFocus(QObject):
    """Lets a spin box or drop-down take the mouse wheel only once it has focus (clicked or tabbed to), so
    scrolling a panel over it scrolls the panel instead of changing a value the user never meant to touch."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(watched, QWidget) and not watched.hasFocus():
            event.ignore()  # the scroll area behind gets it
            return True
        return False


_WHEEL_FILTER: _WheelNeedsFocus | None = None


def wheel_only_when_focused(widget: QWidget) -> QWidget:
    """Apply ``_WheelNeedsFocus`` (and a focus policy that the wheel cannot grant) to ``widget``."""
    global _WHEEL_FILTER
    if _WHEEL_FILTER is None:
        _WHEEL_FILTER = _WheelNeedsFocus()
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_WHEEL_FILTER)
    return widget


def split_optional(kind: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None`` / ``Optional[X]``, else ``(kind, False)``."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(args) == 1 and len(typing.get_args(kind)) == 2:
            return args[0], True
    return kind, False


def limits_text(info: OptionInfo) -> str:
    if info.minimum is not None and info.maximum is not None:
        return f"{info.minimum:g} to {info.maximum:g}"
    if info.minimum is not None:
        return f"at least {info.minimum:g}"
    if info.maximum is not None:
        return f"at most {info.maximum:g}"
    return ""


def decimals_for(info: OptionInfo) -> int:
    """Enough decimals to show the default and limits (e.g. 6 for a learning rate of 1e-6)."""
    decimals = 2
    for value in (info.default, info.minimum, info.maximum):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < abs(value) < 1:
            decimals = max(decimals, math.ceil(-math.log10(abs(value))) + 2)
    return min(decimals, MAX_DECIMALS)


def step_for(info: OptionInfo) -> float:
    """A tenth of the default's order of magnitude (0.1 for 1.5, 1e-4 for 1e-3)."""
    value = info.default if isinstance(info.default, (int, float)) and info.default else None
    if value is None:
        return 0.1
    return 10.0 ** math.floor(math.log10(abs(value))) / 10.0


class OptionEditor:
    """The widget for one option; ``value()`` gives what ``Method.make_options`` expects."""

    def __init__(self, info: OptionInfo, parent: QWidget | None = None) -> None:
        self.info = info
        self.value_type, self.optional = split_optional(info.type)
        self.input = self._make_input()
        if isinstance(self.input, (QComboBox, QSpinBox, QDoubleSpinBox)):
            wheel_only_when_focused(self.input)
        self.auto_box: QCheckBox | None = None
        self.widget = QWidget(parent)
        row = QHBoxLayout(self.widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.input, 1)
        if isinstance(self.input, QLineEdit) and info.name.endswith(("_file", "_path")):
            browse = QToolButton()
            browse.setText("…")
            browse.setToolTip("Choose a file")
            browse.clicked.connect(self._browse)
            row.addWidget(browse)
        if self.optional:
            self.auto_box = QCheckBox("auto")
            self.auto_box.setToolTip("Let the method choose (no value)")
            self.auto_box.toggled.connect(self._show_auto)
            row.addWidget(self.auto_box)
        tip = info.help
        if limits_text(info):
            tip += f" ({limits_text(info)})"
        if info.default_in_app is not None:
            tip += f" — default {info.default_in_app}"
        self.widget.setToolTip(tip.strip())
        self.input.setToolTip(tip.strip())
        self.set_value(info.default_in_app)

    def _make_input(self) -> QWidget:
        info, kind = self.info, self.value_type
        if info.choices is not None:
            box = QComboBox()
            for choice in info.choices:
                box.addItem(str(choice), choice)
            return box
        if kind is bool:
            return QCheckBox()
        if kind is int:
            spin = QSpinBox()
            low = int(info.minimum) if info.minimum is not None else -INT_LIMIT
            high = int(info.maximum) if info.maximum is not None else INT_LIMIT
            spin.setRange(low, high)
            spin.setAccelerated(True)
            return spin
        if kind is float:
            spin = QDoubleSpinBox()
            spin.setDecimals(decimals_for(info))
            low = info.minimum if info.minimum is not None else -FLOAT_LIMIT
            high = info.maximum if info.maximum is not None else FLOAT_LIMIT
            spin.setRange(float(low), float(high))
            spin.setSingleStep(step_for(info))
            spin.setAccelerated(True)
            return spin
        return QLineEdit()

    def _show_auto(self, auto: bool) -> None:
        """An "auto" number box reads "preset" rather than showing its minimum as if it were the value."""
        self.input.setEnabled(not auto)
        widget = self.input
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            widget.setSpecialValueText(AUTO_TEXT if auto else "")
            if auto:
                widget.setValue(widget.minimum())

    def _browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self.widget, self.info.display_name)
        if name:
            self.set_value(name)

    def value(self) -> Any:
        if self.auto_box is not None and self.auto_box.isChecked():
            return None
        widget = self.input
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            return widget.value()
        text = widget.text()
        return text if self.value_type is str else text.strip()

    def set_value(self, value: Any) -> None:
        """Show ``value``; ``None`` ticks "auto" on an optional option. Values that do not fit are ignored."""
        if self.auto_box is not None:
            self.auto_box.setChecked(value is None)
            self._show_auto(value is None)
        if value is None:
            return
        widget = self.input
        try:
            if isinstance(widget, QComboBox):
                index = next((i for i in range(widget.count()) if widget.itemData(i) == value), -1)
                if index >= 0:
                    widget.setCurrentIndex(index)
            elif isinstance(widget, QCheckBox):
                widget.setChecked(bool(value))
            elif isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            elif isinstance(widget, QDoubleSpinBox):
                widget.setValue(float(value))
            else:
                widget.setText(str(value))
        except (TypeError, ValueError):
            pass
