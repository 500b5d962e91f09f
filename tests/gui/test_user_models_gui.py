"""Your own models in the app: a dropped model file becomes a method under "Your models" and runs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl

from enhancer.gui.job_queue import JobState
from enhancer.methods import user_model
from enhancer.runtime.model_library import USER_MODELS_ENV
from tests.gui.test_main_window import LOAD_TIMEOUT_MS, drop, open_and_wait, run_and_wait
from tests.user_model_fixtures import save_model, tiny_model


def test_a_dropped_model_file_is_added_grouped_and_runs(window, qtbot, tmp_path, monkeypatch, image_file):
    monkeypatch.setenv(USER_MODELS_ENV, str(tmp_path / "models"))
    model = save_model(tiny_model("compact"), tmp_path / "realesr-compact-x4.pth")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(model))])
    try:
        assert drop(window, mime).isAccepted()
        panel = window.method_panel
        qtbot.waitUntil(lambda: "model:realesr-compact-x4" in panel.methods, timeout=LOAD_TIMEOUT_MS * 3)
        texts = [panel.method_list.item(row).text() for row in range(panel.method_list.count())]
        heading = texts.index("Your models")
        assert texts[heading + 1].startswith("realesr-compact-x4 (Compact ×4)")
        assert panel.selected_method().id == "model:realesr-compact-x4"
        assert not window.library.inputs(), "a model file is not opened as an image"

        open_and_wait(window, qtbot, image_file)
        (queued,) = run_and_wait(window, qtbot, "model:realesr-compact-x4", scale=4)
        assert queued.state is JobState.DONE, queued.message
        result = window.library.results()[-1]
        assert (result.image.width, result.image.height) == (96, 64)
    finally:
        monkeypatch.delenv(USER_MODELS_ENV)
        user_model.register_user_models()


def test_another_model_folder_is_used_and_kept(window, qtbot, tmp_path, monkeypatch):
    from enhancer.gui.settings import AppSettings
    from enhancer.runtime.model_library import ModelLibrary

    monkeypatch.setenv(USER_MODELS_ENV, str(tmp_path / "first"))
    folder = tmp_path / "shared-models"
    ModelLibrary(folder).add(save_model(tiny_model("esrgan"), tmp_path / "4x-esrgan.pth"))
    try:
        window.set_model_folder(folder)
        assert "model:4x-esrgan" in window.method_panel.methods
        assert window.settings.model_folder == folder
        window.settings._store.sync()
        assert AppSettings(Path(window.settings._store.fileName())).model_folder == folder
    finally:
        monkeypatch.delenv(USER_MODELS_ENV)
        user_model.register_user_models()
