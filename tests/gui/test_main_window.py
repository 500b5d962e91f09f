from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication

from enhancer.gui.compare_view import WIPE_MODE
from enhancer.gui.image_convert import image_to_qimage
from enhancer.gui.job_queue import JobState
from enhancer.gui.main_window import MainWindow
from enhancer.imaging.io import load_image, save_image
from tests.gui.conftest import IRN_LIKE_METHOD, KERNEL_METHOD, gradient_image

LOAD_TIMEOUT_MS = 10000
JOB_TIMEOUT_MS = 20000


def open_and_wait(window: MainWindow, qtbot, *paths: Path) -> None:
    count = len(window.library.inputs())
    window.open_paths(list(paths))
    qtbot.waitUntil(lambda: len(window.library.inputs()) == count + len(paths), timeout=LOAD_TIMEOUT_MS)


def run_and_wait(window: MainWindow, qtbot, method_id: str, scale: int = 2, action: str = "upscale"):
    window.method_panel.select_method(method_id)
    window.method_panel.set_scale(scale)
    queued = window.run_method(action)
    assert queued, window.message_bar.errors()
    qtbot.waitUntil(lambda: all(q.state.finished for q in queued), timeout=JOB_TIMEOUT_MS)
    return queued


def drop(window: MainWindow, mime: QMimeData) -> QDropEvent:
    position = QPointF(window.width() / 2, window.height() / 2)
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(position.toPoint(), actions, mime, buttons, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    event = QDropEvent(position, actions, mime, buttons, modifiers)
    QApplication.sendEvent(window, event)
    return event


def test_bicubic_result_appears_in_the_compare_view(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    source = window.library.current_input
    assert source.label == "photo.png"
    assert window.compare.pane_entries()[0] is source

    (queued,) = run_and_wait(window, qtbot, "bicubic", scale=2)

    assert queued.state is JobState.DONE, queued.message
    result = window.library.results()[-1]
    assert (result.image.width, result.image.height) == (48, 32)
    assert window.compare.pane_entries()[1] is result
    assert window.compare.state.reference_size.toSize().toTuple() == (48, 32)
    input_canvas, result_canvas = window.compare.canvases()
    assert input_canvas.image_rect() == result_canvas.image_rect()
    picture = result_canvas.grab().toImage()
    centre = result_canvas.image_rect().center().toPoint()
    assert picture.pixelColor(centre) != result_canvas.palette().window().color()
    assert window.results_panel.current_entry() is result
    assert window.device_label.text().startswith("last run: CPU")  # in words, not "cpu" or a provider name


def test_dropping_files_and_folders_opens_them(window, qtbot, tmp_path):
    folder = tmp_path / "shoot"
    for name in ("a.png", "b.png"):
        save_image(gradient_image(10, 8), folder / name)
    single = save_image(gradient_image(12, 9), tmp_path / "single.png")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(single)), QUrl.fromLocalFile(str(folder))])

    event = drop(window, mime)

    assert event.isAccepted()
    qtbot.waitUntil(lambda: len(window.library.inputs()) == 3, timeout=LOAD_TIMEOUT_MS)
    assert sorted(entry.label for entry in window.library.inputs()) == ["a.png", "b.png", "single.png"]
    assert window.inputs_panel.list.count() == 3
    assert window.settings.recent_files[0].name in {"a.png", "b.png", "single.png"}


def test_a_bad_file_gives_a_message_and_the_app_carries_on(window, qtbot, tmp_path, image_file):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    window.open_paths([bad])
    qtbot.waitUntil(lambda: bool(window.message_bar.errors()), timeout=LOAD_TIMEOUT_MS)
    message = window.message_bar.errors()[-1]
    assert message.startswith("Could not open notes.png:")
    assert window.message_bar.isVisible()
    assert window.library.inputs() == []

    open_and_wait(window, qtbot, image_file)  # still works
    assert window.library.current_input.label == "photo.png"


def test_pasting_an_image_from_the_clipboard(window, qtbot):
    QGuiApplication.clipboard().setImage(image_to_qimage(gradient_image(9, 7)))
    window.paste()
    entry = window.library.current_input
    assert entry is not None and entry.size_text == "9×7"
    assert entry.label == "pasted-1"


def test_copying_a_result_to_the_clipboard(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    window.copy_result()
    copied = QGuiApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (48, 32)


def test_saving_keeps_metadata_and_never_overwrites_silently(window, qtbot, tmp_path, monkeypatch):
    tagged = gradient_image()
    tagged.text = {"Description": "grandma, 1952"}
    source = save_image(tagged, tmp_path / "old.png")
    open_and_wait(window, qtbot, source)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    result = window.library.results()[-1]

    target = tmp_path / "out" / "old_bicubic_x2.png"
    window.save_entry(result, target)
    qtbot.waitUntil(lambda: target.exists(), timeout=LOAD_TIMEOUT_MS)
    saved = load_image(target)
    assert (saved.width, saved.height) == (48, 32)
    assert saved.text.get("Description") == "grandma, 1952"

    window.save_entry(result, source)  # the input itself: refused outright
    assert "never overwritten" in window.message_bar.errors()[-1]
    assert load_image(source).width == 24

    asked = []
    monkeypatch.setattr(window, "confirm_overwrite", lambda path: asked.append(path) or False)
    before = target.stat().st_mtime_ns
    window.save_entry(result, target)  # exists: asks, and "no" leaves it alone
    assert asked == [target]
    assert target.stat().st_mtime_ns == before

    window.save_all(window.library.results(), tmp_path / "out", ".jpg", quality=80)
    jpeg = tmp_path / "out" / "old_bicubic_x2.jpg"
    qtbot.waitUntil(lambda: jpeg.exists(), timeout=LOAD_TIMEOUT_MS)
    window.save_all(window.library.results(), tmp_path / "out", ".jpg", quality=80)
    qtbot.waitUntil(lambda: (tmp_path / "out" / "old_bicubic_x2-2.jpg").exists(), timeout=LOAD_TIMEOUT_MS)


def test_a_kernel_result_shows_the_kernel(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, KERNEL_METHOD)
    panel = window.results_panel
    assert panel.kernel_view.isVisible()
    assert panel.kernel_view.kernel.shape == (13, 13)
    assert panel.kernel_view.caption() == "13×13 kernel, sum 1.000"


def test_restore_is_offered_for_images_the_method_shrank(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method(IRN_LIKE_METHOD)
    restore = window.method_panel.action_buttons["restore"]
    assert not restore.isEnabled()
    run_and_wait(window, qtbot, IRN_LIKE_METHOD, action="shrink")
    shrunk = window.library.results()[-1]
    assert shrunk.size_text == "12×8" and shrunk.made_by_irn
    assert window.results_panel.current_entry() is shrunk
    assert restore.isEnabled(), "the shrunk result is selected: it can be restored"
    run_and_wait(window, qtbot, IRN_LIKE_METHOD, action="restore")
    restored = window.library.results()[-1]
    assert restored.size_text == "24×16" and restored.made_from is shrunk
    assert not restore.isEnabled()  # the restored result is selected now, and IRN did not make it

    window.use_as_input(shrunk)  # an IRN-made image opened as an input can be restored too
    assert window.library.current_input.made_by_irn
    assert restore.isEnabled()


def test_several_images_and_methods_queue_up(window, qtbot, tmp_path):
    paths = [save_image(gradient_image(8 + i, 8), tmp_path / f"p{i}.png") for i in range(2)]
    open_and_wait(window, qtbot, *paths)
    window.method_panel.select_method("bicubic")
    first = window.run_method("upscale", every_open_image=True)
    window.method_panel.select_method("lanczos")
    second = window.run_method("upscale")
    queued = first + second
    assert len(queued) == 3 and len(window.job_panel.rows) == 3
    qtbot.waitUntil(lambda: all(q.state is JobState.DONE for q in queued), timeout=JOB_TIMEOUT_MS)
    assert len(window.library.results()) == 3
    assert window.results_panel.list.count() == 3


def test_settings_survive_a_restart(qtbot, settings, image_file):
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.compare.set_mode(WIPE_MODE)
    first.method_panel.select_method("lanczos")
    first.method_panel.set_scale(3)
    first.close()

    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert second.compare.mode == WIPE_MODE
    assert second.method_panel.selected_method().id == "lanczos"
    assert second.method_panel.scale() == 3
    second.close()


def test_wipe_mode_shows_input_and_newest_result(window, qtbot, image_file):
    window.compare.set_mode(WIPE_MODE)
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "lanczos", scale=2)
    left, right = window.compare.wipe_entries()
    assert left is window.library.current_input
    assert right is window.library.results()[-1]
    canvas = window.compare.wipe_canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(canvas.divider_x()), 50))
    qtbot.mouseMove(canvas, QPoint(20, 50))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(20, 50))
    assert canvas.divider == pytest.approx(20 / canvas.width(), abs=0.01)


def test_closing_an_image_drops_its_results(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic")
    window.close_input(window.library.current_input)
    assert window.library.entries() == []
    assert window.compare.pane_entries() == [None, None]


def test_main_opens_the_window_with_the_given_files(qtbot, image_file):
    from enhancer.gui import app as gui_app

    seen = []

    def close_when_loaded() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if windows and windows[0].library.inputs():
            seen.append(windows[0].library.current_input.label)
            windows[0].close()
        else:
            QTimer.singleShot(50, close_when_loaded)

    QTimer.singleShot(50, close_when_loaded)
    assert gui_app.main([str(image_file)]) == 0
    assert seen == ["photo.png"]


def test_job_titles_name_the_preset_that_will_run(window, qtbot, image_file, monkeypatch):
    from enhancer.runtime import devices

    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method("zssr")
    window.method_panel.set_scale(2)
    assert window.method_panel.option_values()["preset"] == "auto"
    (queued,) = window.run_method("upscale")
    assert queued.label == "photo.png · zssr fast ×2"
    window.queue.cancel(queued)
    qtbot.waitUntil(lambda: queued.state.finished, timeout=JOB_TIMEOUT_MS)


def test_a_duplicate_of_a_pending_job_asks_first(window, qtbot, image_file, monkeypatch):
    from tests.gui.conftest import SLOW_METHOD

    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method(SLOW_METHOD)
    window.method_panel.set_scale(2)
    asked = []
    monkeypatch.setattr(window, "confirm_duplicate", lambda label: asked.append(label) or False)
    first = window.run_method("upscale")
    assert len(first) == 1 and not asked
    assert window.run_method("upscale") == [] and len(asked) == 1  # declined: nothing queued
    monkeypatch.setattr(window, "confirm_duplicate", lambda label: True)
    again = window.run_method("upscale")
    assert len(again) == 1
    window.queue.cancel_all()
    qtbot.waitUntil(lambda: all(q.state.finished for q in first + again), timeout=JOB_TIMEOUT_MS)


def test_the_running_job_is_the_top_row(window, qtbot, image_file):
    from tests.gui.conftest import SLOW_METHOD

    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    window.method_panel.select_method(SLOW_METHOD)
    window.method_panel.set_scale(2)
    (slow,) = window.run_method("upscale")
    qtbot.waitUntil(lambda: slow.state is JobState.RUNNING, timeout=JOB_TIMEOUT_MS)
    rows = window.job_panel.ordered_rows()
    assert rows[0].queued is slow and rows[-1].queued.state is JobState.DONE
    layout = window.job_panel.rows_layout
    assert layout.itemAt(0).widget() is window.job_panel.row_for(slow)
    window.queue.cancel(slow)
    qtbot.waitUntil(lambda: slow.state.finished, timeout=JOB_TIMEOUT_MS)


def test_progress_text_says_each_fact_once():
    from enhancer.runtime.jobs import ProgressUpdate, progress_text

    update = ProgressUpdate(0.5, "training", "iteration 60", {"iteration": 60.0, "loss": 0.01})
    assert progress_text(update) == "training · iteration 60 · loss 0.01"
    assert progress_text(ProgressUpdate(0.1, "bicubic", "bicubic")) == "bicubic"


def test_save_starts_in_the_inputs_folder_but_never_a_hidden_one(window, qtbot, tmp_path):
    from enhancer.gui.library import ImageEntry

    visible = save_image(gradient_image(), tmp_path / "photos" / "a.png")
    hidden = save_image(gradient_image(), tmp_path / ".cache" / "enhancer" / "sample.png")
    for path, expected_hidden in ((visible, False), (hidden, True)):
        image = load_image(path)
        entry = ImageEntry(path.name, image, image_to_qimage(image))
        folder = window._default_folder(entry)
        assert (folder == path.parent) is not expected_hidden
        assert not any(part.startswith(".") for part in folder.parts)


def test_the_estimate_is_shown_before_a_job_and_a_long_one_asks_first(window, qtbot, image_file, monkeypatch):
    from enhancer.runtime import devices

    monkeypatch.setattr(devices, "cuda_available", lambda: False)
    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method("bicubic")
    assert window.method_panel.estimate_label.text().startswith("About ")
    assert "on this CPU" in window.method_panel.estimate_label.text()
    window.method_panel.select_method("zssr")
    window.method_panel.set_scale(2)
    window.method_panel.set_option_values({"preset": "quality"})
    assert (
        "min" in window.method_panel.estimate_label.text()
    )  # quality on a CPU: most of an hour, said up front
    answers = []

    def decline(label, estimate, fast):
        answers.append((estimate, fast))
        return "cancel"

    monkeypatch.setattr(window, "confirm_long_job", decline)
    assert window.run_method("upscale") == []
    assert answers and answers[0][1] is not None  # the fast preset was offered, with its own time
    monkeypatch.setattr(window, "confirm_long_job", lambda *_: "fast")
    (queued,) = window.run_method("upscale")
    assert queued.job.options["preset"] == "fast" and queued.label.endswith("zssr fast ×2")
    assert queued.estimate is not None and queued.estimate[3] < 600
    window.queue.cancel(queued)
    qtbot.waitUntil(lambda: queued.state.finished, timeout=JOB_TIMEOUT_MS)


def test_a_finished_run_refines_the_next_estimate(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method("bicubic")
    first = window.method_panel.estimate_label.text()
    run_and_wait(window, qtbot, "bicubic", scale=2)
    assert window.rates.factors["bicubic@cpu"]["runs"] == 1
    assert window.method_panel.estimate_label.text() != "" and first != ""


def test_help_has_getting_started_and_shortcuts(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    texts = [a.text() for a in menu.actions()]
    assert "&Getting started" in texts and "&Keyboard shortcuts" in texts
    rows = dict((what, keys) for keys, what in window.shortcut_rows())
    assert rows["Run"] == "Ctrl+R" and "Fit" in rows
    from enhancer.gui.main_window import GETTING_STARTED

    assert "Pixel recursive" in GETTING_STARTED and "1-2 hours on a CPU" in GETTING_STARTED


def test_a_light_theme_is_available_and_remembered(window, settings):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    assert window.set_theme("light") == "light"
    window_colour = QApplication.instance().palette().color(QPalette.ColorRole.Window)
    assert window_colour.lightness() > 180 and settings.theme == "light"
    assert "#d6e4f5" in QApplication.instance().styleSheet()  # the message bar in a light colour
    assert window.set_theme("dark") == "dark"
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 80
    assert window.set_theme("system") in ("dark", "light")
    window.set_theme("dark")  # what the other tests were written against


def test_a_message_floats_over_the_view_instead_of_pushing_it(window, qtbot):
    before = window.compare.geometry()
    window.show_error("Something to read")
    qtbot.waitUntil(window.message_bar.isVisible)
    assert window.compare.geometry() == before  # nothing moved
    bar = window.message_bar.geometry()
    host = window.centralWidget().rect()
    assert host.contains(bar) and bar.bottom() > host.height() / 2  # over the lower part of the pictures


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_the_method_panel_fits_without_cutting_text_and_run_stays_visible(window, qtbot, image_file, size):
    from PySide6.QtWidgets import QAbstractButton, QLabel

    window.resize(*size)
    open_and_wait(window, qtbot, image_file)
    panel = window.method_panel
    for method_id in panel.methods:
        panel.select_method(method_id)
        for unfolded in (False, True):
            panel.advanced_toggle.setChecked(unfolded)
            for _ in range(3):
                QApplication.processEvents()
            for widget in panel.findChildren(QLabel) + panel.findChildren(QAbstractButton):
                if not widget.isVisibleTo(panel) or (isinstance(widget, QLabel) and widget.wordWrap()):
                    continue
                text = widget.text()
                needed = widget.fontMetrics().horizontalAdvance(text)
                assert needed <= widget.width() + 1, (
                    f"{method_id}: {text!r} is cut ({needed} > {widget.width()})"
                )
                viewport = window.method_scroll.viewport()
                if viewport.isAncestorOf(widget):  # and the scrolling column shows all of it
                    left = widget.mapTo(viewport, widget.rect().topLeft()).x()
                    right = left + (needed if isinstance(widget, QLabel) else widget.width())
                    assert right <= viewport.width(), f"{method_id}: {text!r} runs past the column's edge"
            run = next(iter(panel.action_buttons.values()))
            corner = run.mapTo(window, run.rect().bottomRight())
            assert run.isVisible() and window.rect().contains(corner), f"{method_id}: Run is out of sight"
    panel.advanced_toggle.setChecked(False)


def test_side_panels_get_their_width_back_after_the_window_was_narrow(window, qtbot):
    window.resize(1400, 880)
    qtbot.wait(50)
    window.resize(640, 480)
    qtbot.wait(50)
    narrow = window.method_dock.width()
    window.resize(1400, 880)
    qtbot.waitUntil(lambda: window.method_dock.width() >= 300, timeout=2000)
    assert window.method_dock.width() >= narrow and window.results_dock.width() >= 260


def test_the_eta_shows_from_the_estimate_before_the_job_reports(window, qtbot, image_file):
    from tests.gui.conftest import SLOW_METHOD

    open_and_wait(window, qtbot, image_file)
    window.method_panel.select_method(SLOW_METHOD)
    window.method_panel.set_scale(2)
    (queued,) = window.run_method("upscale")
    assert queued.estimate is not None  # an unknown method still gets the fallback model's estimate
    qtbot.waitUntil(lambda: queued.state is JobState.RUNNING, timeout=JOB_TIMEOUT_MS)
    row = window.job_panel.row_for(queued)
    qtbot.waitUntil(lambda: row.eta.text().startswith("ETA"), timeout=5000)  # within 5 s of the start
    window.queue.cancel(queued)
    qtbot.waitUntil(lambda: queued.state.finished, timeout=JOB_TIMEOUT_MS)
