"""The method panel, generated from the registry: pick a method, its scale, preset, device and options.

Nothing here knows any particular method: the list, the scales, the action buttons (IRN's Shrink and
Restore) and every option editor come from the ``Method`` descriptors. A method's option named ``preset``
(ZSSR's quality/fast) is shown beside scale and device rather than among the other options.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from enhancer.gui.library import ImageEntry
from enhancer.gui.option_editors import OptionEditor, wheel_only_when_focused
from enhancer.gui.settings import AppSettings
from enhancer.methods.registry import DEVICE_CHOICES, Method, all_methods

ACTION_LABELS = {"upscale": "Enlarge", "shrink": "Shrink", "restore": "Restore", "kernel": "Estimate kernel"}
ACTION_TIPS = {
    "upscale": "Enlarge the current image with this method",
    "kernel": "Only estimate how the image was blurred (the kernel), without enlarging it",
    "shrink": "Make a smaller image that this method can later restore",
    "restore": "Enlarge an image this method shrank (only images it made can be restored)",
}
PRESET_OPTION = "preset"
USER_MODEL_PREFIX = "model:"  # method ids of the user's own models (grouped under "Your models")
MIN_TILE, MAX_TILE = 64, 8192


class MethodPanel(QWidget):
    """Method choice and settings; emits ``run_requested(action, every_open_image)``."""

    run_requested = Signal(str, bool)
    method_changed = Signal(str)
    job_settings_changed = Signal()  # method, scale, preset or device: what an estimate depends on
    layout_changed = Signal()  # rows were added, removed, folded or unfolded

    def __init__(
        self, settings: AppSettings, methods: list[Method] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.methods = {m.id: m for m in (methods if methods is not None else all_methods())}
        self.editors: dict[str, OptionEditor] = {}
        self.action_buttons: dict[str, QPushButton] = {}
        self._input: ImageEntry | None = None
        self._restorable = False
        self._cuda_usable = True
        self._build()
        last = settings.last_method
        self.select_method(last if last in self.methods else next(iter(self.methods), ""))

    # -- building -----------------------------------------------------------------------------------------

    def _build(self) -> None:
        self.method_list = QListWidget()
        self.method_list.setObjectName("methodList")
        self._fill_method_list()
        self.method_list.currentItemChanged.connect(self._on_method_item)

        self.purpose_label = QLabel()
        self.purpose_label.setWordWrap(True)
        self.purpose_label.setObjectName("purposeLabel")

        self.scale_box = QComboBox()
        self.scale_box.setToolTip("How many times larger (or, to shrink, smaller) the result is")
        self.preset_slot = QStackedWidget()
        self.no_preset_label = QLabel("none for this method")
        self.no_preset_label.setEnabled(False)
        self.preset_slot.addWidget(self.no_preset_label)
        self.device_box = QComboBox()
        self.device_box.setToolTip("auto uses a CUDA GPU when one works, else the CPU")
        self.tile_box = QSpinBox()
        self.tile_box.setRange(MIN_TILE, MAX_TILE)
        self.tile_box.setSingleStep(64)
        self.tile_box.setSuffix(" px")
        self.tile_box.setToolTip("Large images are processed in tiles of this size to bound memory")
        self.tile_box.setValue(min(max(self.settings.tile_size, MIN_TILE), MAX_TILE))
        for box in (self.scale_box, self.device_box, self.tile_box):
            wheel_only_when_focused(box)

        run_form = QFormLayout()
        run_form.addRow("Scale", self.scale_box)
        run_form.addRow("Preset", self.preset_slot)
        run_form.addRow("Device", self.device_box)
        run_form.addRow("Tile size", self.tile_box)

        self.options_group = QGroupBox("Options")
        options_layout = QVBoxLayout(self.options_group)
        self.options_form = QFormLayout()
        options_layout.addLayout(self.options_form)
        # Research knobs: folded away until asked for (the toggle is remembered for the session only).
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setToolTip("The method's research settings; the preset chooses them for you")
        self.advanced_box = QWidget()
        self.advanced_form = QFormLayout(self.advanced_box)
        self.advanced_form.setContentsMargins(0, 0, 0, 0)
        self.advanced_box.setVisible(False)
        self.advanced_toggle.toggled.connect(self._show_advanced)
        options_layout.addWidget(self.advanced_toggle)
        options_layout.addWidget(self.advanced_box)
        reset = QPushButton("Reset to defaults")
        reset.setToolTip("Put every option of this method back to its default")
        reset.clicked.connect(self.reset_options)
        reset_row = QHBoxLayout()
        reset_row.addStretch(1)
        reset_row.addWidget(reset)
        options_layout.addLayout(reset_row)

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("errorLabel")
        self.error_label.hide()

        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimateLabel")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setToolTip(
            "From this machine's earlier runs (or our measurements before the first)"
        )
        self.scale_box.currentIndexChanged.connect(lambda _: self.job_settings_changed.emit())
        self.device_box.currentIndexChanged.connect(lambda _: self.job_settings_changed.emit())

        self.every_image_box = QCheckBox("Every open image")
        self.every_image_box.setToolTip("Queue one job per open image instead of only the current one")
        self.buttons_row = QHBoxLayout()

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Method"))
        layout.addWidget(self.method_list)
        layout.addWidget(self.purpose_label)
        layout.addLayout(run_form)
        layout.addWidget(self.options_group)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        # What starts a job sits in a footer that the window keeps below the scrolling options, so the Run
        # button is always visible, however many options are unfolded.
        self.footer = QWidget()
        footer = QVBoxLayout(self.footer)
        footer.setContentsMargins(9, 4, 9, 6)
        footer.addWidget(self.every_image_box)
        footer.addWidget(self.estimate_label)
        footer.addLayout(self.buttons_row)

    def _rebuild_for(self, method: Method) -> None:
        self.purpose_label.setText(method.purpose)
        self.scale_box.clear()
        for scale in method.scales:
            self.scale_box.addItem(f"×{scale}", scale)
        remembered = self.settings.scale_for(method.id)
        if remembered in method.scales:
            self.scale_box.setCurrentIndex(method.scales.index(remembered))

        self.device_box.clear()
        for device in DEVICE_CHOICES:
            if device == "auto" or device in method.devices:
                self.device_box.addItem(device, device)
        self._apply_cuda_usable()
        index = self.device_box.findData(self.settings.device)
        self.device_box.setCurrentIndex(max(index, 0))

        for form in (self.options_form, self.advanced_form):
            while form.rowCount():
                form.removeRow(0)
        while self.preset_slot.count() > 1:
            old = self.preset_slot.widget(1)
            self.preset_slot.removeWidget(old)
            old.hide()  # deleteLater waits for the event loop; until then it must not show
            old.deleteLater()
        self.editors = {}
        for info in method.options():
            editor = OptionEditor(info)
            self.editors[info.name] = editor
            if info.name == PRESET_OPTION:
                self.preset_slot.addWidget(editor.widget)
                if isinstance(editor.input, QComboBox):
                    editor.input.currentIndexChanged.connect(lambda _: self.job_settings_changed.emit())
                continue
            label = QLabel(info.display_name)
            label.setToolTip(editor.widget.toolTip())
            (self.advanced_form if info.advanced else self.options_form).addRow(label, editor.widget)
        self.preset_slot.setCurrentIndex(self.preset_slot.count() - 1)
        has_advanced = self.advanced_form.rowCount() > 0
        self.advanced_toggle.setVisible(has_advanced)
        self._show_advanced(has_advanced and self.advanced_toggle.isChecked())
        self.options_group.setVisible(self.options_form.rowCount() > 0 or has_advanced)
        self.set_option_values(self.settings.options_for(method.id))

        while self.buttons_row.count():
            item = self.buttons_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        self.action_buttons = {}
        for action in method.actions:
            button = QPushButton(ACTION_LABELS.get(action, action.capitalize()))
            button.setToolTip(ACTION_TIPS.get(action, ""))
            button.setObjectName(f"run_{action}")
            button.clicked.connect(lambda _=False, a=action: self._request(a))
            self.buttons_row.addWidget(button)
            self.action_buttons[action] = button
        if self.action_buttons:
            next(iter(self.action_buttons.values())).setDefault(True)
        self._update_buttons()
        self.show_error("")
        self.layout_changed.emit()

    def _show_advanced(self, shown: bool) -> None:
        self.advanced_box.setVisible(shown)
        self.advanced_toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.layout_changed.emit()

    def _fill_method_list(self) -> None:
        """Built-ins first, then a "Your models" heading (not selectable) and the user's models."""
        self.method_list.clear()
        heading_done = False
        for method in self.methods.values():
            if method.id.startswith(USER_MODEL_PREFIX) and not heading_done:
                heading = QListWidgetItem("Your models")
                heading.setFlags(Qt.ItemFlag.NoItemFlags)
                font = heading.font()
                font.setBold(True)
                heading.setFont(font)
                self.method_list.addItem(heading)
                heading_done = True
            item = QListWidgetItem(method.name)
            item.setData(Qt.ItemDataRole.UserRole, method.id)
            scales = ", ".join(f"×{scale}" for scale in method.scales)
            item.setToolTip(f"{method.purpose}\nScales: {scales}; devices: {', '.join(method.devices)}")
            self.method_list.addItem(item)
        rows = max(min(self.method_list.count(), 8), 2)
        self.method_list.setMaximumHeight(rows * (self.method_list.sizeHintForRow(0) + 2) + 8)

    def set_methods(self, methods: list[Method], select: str | None = None) -> None:
        """Show a new list of methods (a model was added or removed), keeping or changing the selection."""
        current = self.selected_method()
        self.methods = {m.id: m for m in methods}
        self.method_list.blockSignals(True)
        self._fill_method_list()
        self.method_list.blockSignals(False)
        wanted = select or (current.id if current is not None else "")
        self.select_method(wanted if wanted in self.methods else next(iter(self.methods), ""))
        if self.method_list.currentItem() is not None:
            self._on_method_item(self.method_list.currentItem(), None)

    # -- what is selected -------------------------------------------------------------------------------

    def selected_method(self) -> Method | None:
        item = self.method_list.currentItem()
        return self.methods.get(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def select_method(self, method_id: str) -> None:
        for row in range(self.method_list.count()):
            if self.method_list.item(row).data(Qt.ItemDataRole.UserRole) is None:
                continue
            if self.method_list.item(row).data(Qt.ItemDataRole.UserRole) == method_id:
                self.method_list.setCurrentRow(row)
                return

    def _on_method_item(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        method = self.methods[item.data(Qt.ItemDataRole.UserRole)]
        self._rebuild_for(method)
        self.method_changed.emit(method.id)
        self.job_settings_changed.emit()

    def scale(self) -> int:
        return int(self.scale_box.currentData() or 0)

    def set_scale(self, scale: int) -> None:
        index = self.scale_box.findData(scale)
        if index >= 0:
            self.scale_box.setCurrentIndex(index)

    def device(self) -> str:
        return str(self.device_box.currentData() or "auto")

    def tile_size(self) -> int:
        return self.tile_box.value()

    def option_values(self) -> dict[str, Any]:
        return {name: editor.value() for name, editor in self.editors.items()}

    def set_option_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.editors:
                self.editors[name].set_value(value)

    def reset_options(self) -> None:
        """Every option back to its default (the preset too)."""
        for editor in self.editors.values():
            editor.set_value(editor.info.default_in_app)

    # -- state from outside ------------------------------------------------------------------------------

    def set_input(self, entry: ImageEntry | None, restorable: bool | None = None) -> None:
        """The image a run would use; Restore is enabled only when an image IRN made is at hand."""
        self._input = entry
        self._restorable = entry is not None and entry.made_by_irn if restorable is None else restorable
        self._update_buttons()

    def set_cuda_usable(self, usable: bool) -> None:
        """Disable the ``cuda`` device when the device probe finds no working GPU."""
        self._cuda_usable = usable
        self._apply_cuda_usable()

    def _apply_cuda_usable(self) -> None:
        index = self.device_box.findData("cuda")
        if index < 0:
            return
        item = self.device_box.model().item(index)
        item.setEnabled(self._cuda_usable)
        item.setToolTip("" if self._cuda_usable else "No CUDA GPU is usable on this machine")
        if not self._cuda_usable and self.device_box.currentIndex() == index:
            self.device_box.setCurrentIndex(0)

    def _update_buttons(self) -> None:
        has_input = self._input is not None
        for action, button in self.action_buttons.items():
            button.setEnabled(self._restorable if action == "restore" else has_input)
            if action == "restore" and has_input and not self._restorable:
                button.setToolTip("This image was not made by IRN's Shrink, so IRN cannot restore it")
            else:
                button.setToolTip(ACTION_TIPS.get(action, ""))

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))

    def _request(self, action: str) -> None:
        self.run_requested.emit(action, self.every_image_box.isChecked())

    def remember(self) -> None:
        """Store the current method, scale, device, tile size and options for the next session."""
        method = self.selected_method()
        if method is None:
            return
        self.settings.last_method = method.id
        self.settings.set_scale_for(method.id, self.scale())
        self.settings.set_options_for(method.id, self.option_values())
        self.settings.device = self.device()
        self.settings.tile_size = self.tile_size()
