import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from enhancer.gui.image_convert import image_to_qimage
from enhancer.gui.library import ImageEntry
from enhancer.gui.method_panel import MethodPanel
from enhancer.gui.option_editors import split_optional
from enhancer.methods.registry import all_methods, get_method
from tests.gui.conftest import IRN_LIKE_METHOD, OPTIONS_METHOD, gradient_image


@pytest.fixture
def panel(qtbot, settings):
    method_panel = MethodPanel(settings)
    qtbot.addWidget(method_panel)
    method_panel.show()
    return method_panel


def input_entry(made_by_irn: bool = False) -> ImageEntry:
    image = gradient_image()
    if made_by_irn:
        image.text = {"enhancer-irn": "x2"}
    return ImageEntry("photo.png", image, image_to_qimage(image))


def test_every_registered_method_is_listed_with_its_purpose(panel):
    listed = [panel.method_list.item(row).text() for row in range(panel.method_list.count())]
    assert listed == [method.name for method in all_methods()]
    panel.select_method("bicubic")
    assert panel.purpose_label.text() == get_method("bicubic").purpose
    assert [panel.scale_box.itemData(i) for i in range(panel.scale_box.count())] == list(
        get_method("bicubic").scales
    )
    assert panel.options_group.isHidden()  # bicubic has no options
    assert panel.no_preset_label is panel.preset_slot.currentWidget()


def test_options_become_the_right_widgets_with_their_limits(panel):
    panel.select_method(OPTIONS_METHOD)
    editors = panel.editors
    assert isinstance(editors["iterations"].input, QSpinBox)
    assert (editors["iterations"].input.minimum(), editors["iterations"].input.maximum()) == (1, 3000)
    rate = editors["learning_rate"].input
    assert isinstance(rate, QDoubleSpinBox)
    assert rate.minimum() == pytest.approx(1e-6) and rate.maximum() == pytest.approx(0.1)
    assert rate.decimals() >= 8 - 2  # shows 1e-6
    assert isinstance(editors["real_photo"].input, QCheckBox)
    assert isinstance(editors["mode"].input, QComboBox) and editors["mode"].input.count() == 3
    assert isinstance(editors["note"].input, QLineEdit)
    crop = editors["crop"]
    assert crop.auto_box is not None and crop.auto_box.isChecked() and not crop.input.isEnabled()
    assert crop.input.text() == "preset"  # not its minimum, as if that were the value
    assert "crop side" in crop.widget.toolTip() and "16 to 512" in crop.widget.toolTip()
    # the method's own "preset" option sits beside scale and device
    assert panel.preset_slot.currentWidget() is editors["preset"].widget

    values = panel.option_values()
    assert values["crop"] is None and values["iterations"] == 100
    crop.auto_box.setChecked(False)
    assert crop.input.isEnabled() and crop.input.text() == "16"
    crop.input.setValue(64)
    editors["mode"].input.setCurrentIndex(2)
    values = panel.option_values()
    assert (values["crop"], values["mode"]) == (64, "c")
    options = get_method(OPTIONS_METHOD).make_options(values)  # what the panel gives validates
    assert options.crop == 64

    panel.reset_options()
    assert panel.option_values()["crop"] is None


def test_devices_and_scales_come_from_the_descriptor(panel):
    panel.select_method(OPTIONS_METHOD)
    assert [panel.device_box.itemData(i) for i in range(panel.device_box.count())] == ["auto", "cpu", "cuda"]
    panel.set_cuda_usable(False)
    cuda = panel.device_box.model().item(panel.device_box.findData("cuda"))
    assert not cuda.isEnabled()
    panel.select_method("bicubic")
    assert [panel.device_box.itemData(i) for i in range(panel.device_box.count())] == ["auto", "cpu"]


def test_shrink_and_restore_buttons_and_when_restore_is_allowed(panel, qtbot):
    panel.select_method(IRN_LIKE_METHOD)
    assert [button.text() for button in panel.action_buttons.values()] == ["Shrink", "Restore"]
    assert not any(button.isEnabled() for button in panel.action_buttons.values())  # no image yet
    panel.set_input(input_entry())
    assert panel.action_buttons["shrink"].isEnabled()
    assert not panel.action_buttons["restore"].isEnabled()
    panel.set_input(input_entry(made_by_irn=True))
    assert panel.action_buttons["restore"].isEnabled()
    with qtbot.waitSignal(panel.run_requested) as signal:
        panel.action_buttons["restore"].click()
    assert signal.args == ["restore", False]


def test_choices_are_remembered_between_sessions(qtbot, settings):
    first = MethodPanel(settings)
    qtbot.addWidget(first)
    first.select_method(OPTIONS_METHOD)
    first.set_scale(4)
    first.editors["iterations"].input.setValue(777)
    first.device_box.setCurrentIndex(first.device_box.findData("cpu"))
    first.tile_box.setValue(256)
    first.remember()

    second = MethodPanel(settings)
    qtbot.addWidget(second)
    assert second.selected_method().id == OPTIONS_METHOD
    assert second.scale() == 4
    assert second.option_values()["iterations"] == 777
    assert second.device() == "cpu"
    assert second.tile_size() == 256


def test_optional_types_are_recognised():
    assert split_optional(int | None) == (int, True)
    assert split_optional(float) == (float, False)


def _wheel(widget, steps: int = 3) -> None:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.width() / 2, widget.height() / 2)
    for _ in range(steps):
        event = QWheelEvent(
            centre,
            widget.mapToGlobal(centre),
            QPoint(0, 0),
            QPoint(0, 120),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(widget, event)


def test_the_wheel_changes_no_value_unless_the_box_has_focus(panel, qtbot):
    panel.select_method(OPTIONS_METHOD)  # a method with plain number options
    tile, scale, spin = panel.tile_box, panel.scale_box, panel.editors["iterations"].input
    before = (tile.value(), scale.currentIndex(), spin.value())
    panel.setFocus()
    for box in (tile, scale, spin):
        _wheel(box)  # scrolling the panel over them
    assert (tile.value(), scale.currentIndex(), spin.value()) == before
    tile.setFocus()
    qtbot.waitUntil(tile.hasFocus)
    _wheel(tile)
    assert tile.value() > before[0]  # clicked or tabbed into: the wheel is the user's


def test_research_options_are_folded_under_advanced_with_plain_names(panel):
    panel.select_method("zssr")
    basic = [
        panel.options_form.itemAt(i, panel.options_form.ItemRole.LabelRole).widget().text()
        for i in range(panel.options_form.rowCount())
    ]
    assert basic == ["Real photo (noisy or compressed)"]
    assert panel.advanced_toggle.isVisible() and not panel.advanced_box.isVisible()
    advanced = [
        panel.advanced_form.itemAt(i, panel.advanced_form.ItemRole.LabelRole).widget().text()
        for i in range(panel.advanced_form.rowCount())
    ]
    assert "Training steps" in advanced and not any(
        "_" in name or "father" in name.lower() for name in advanced
    )
    panel.advanced_toggle.setChecked(True)
    assert panel.advanced_box.isVisible()
    panel.select_method("pixelrsr")
    assert not panel.advanced_toggle.isVisible()  # nothing to fold away


def test_an_image_whose_irn_marker_survived_only_in_xmp_can_be_restored():
    from enhancer.imaging.xmp import with_property
    from enhancer.methods import irn

    entry = input_entry()
    assert not entry.made_by_irn
    entry.image.xmp = with_property(None, irn.XMP_NAMESPACE, irn.XMP_PREFIX, irn.XMP_PROPERTY, "{}")
    assert entry.made_by_irn  # e.g. a shrunk PNG that an editor re-saved as JPEG
