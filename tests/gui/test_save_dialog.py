from pathlib import Path

from enhancer.gui.image_convert import image_to_qimage
from enhancer.gui.library import ImageEntry
from enhancer.gui.save_dialog import SaveDialog, free_path, result_file_name
from enhancer.methods.registry import MethodResult
from tests.gui.conftest import gradient_image


def make_result(action: str = "upscale") -> ImageEntry:
    image = gradient_image()
    image.source = Path("/photos/grandma 1952.jpg")
    source = ImageEntry("grandma 1952.jpg", image, image_to_qimage(image))
    info = {"method": "irn", "scale": "2", "action": action}
    return ImageEntry(
        "grandma 1952.jpg · irn ×2", image, source.display, MethodResult(image, info=info), source
    )


def test_result_names_say_where_they_came_from():
    assert result_file_name(make_result(), ".png") == "grandma 1952_irn_x2.png"
    assert result_file_name(make_result("shrink"), ".webp") == "grandma 1952_irn_shrink_x2.webp"
    fast = make_result()
    fast.result.info.update(method="zssr", preset="fast")
    assert result_file_name(fast, ".png") == "grandma 1952_zssr-fast_x2.png"
    fast.label += " · sample 3"
    assert result_file_name(fast, ".png") == "grandma 1952_zssr-fast_x2_sample3.png"


def test_free_path_never_reuses_a_name(tmp_path):
    taken = tmp_path / "a.png"
    taken.write_bytes(b"x")
    (tmp_path / "a-2.png").write_bytes(b"x")
    assert free_path(taken) == tmp_path / "a-3.png"
    assert free_path(tmp_path / "b.png") == tmp_path / "b.png"


def test_the_dialog_gives_the_chosen_format_and_quality(qtbot, tmp_path):
    dialog = SaveDialog(tmp_path, "photo_bicubic_x4.png", "PNG", 90)
    qtbot.addWidget(dialog)
    assert not dialog.quality_box.isEnabled()  # PNG is lossless
    dialog.format_box.setCurrentText("JPEG")
    assert dialog.quality_box.isEnabled()
    assert dialog.target_path() == tmp_path / "photo_bicubic_x4.jpg"
    assert dialog.quality() == 90
    assert "alpha is dropped" in dialog.note.text()
