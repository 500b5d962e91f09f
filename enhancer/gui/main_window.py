"""The main window: opening images, the method panel, the job queue, the compare view, saving.

A pixel's path: a dropped or opened file is read by ``load_image`` on a worker (``BackgroundCalls``) and
becomes an input ``ImageEntry`` in the ``ImageLibrary``; Enlarge turns the method panel's choices into a
``Job`` for the ``JobQueue``, which runs ``run_job`` on its worker; the result becomes a result entry shown
in the ``CompareView``; Save writes it with ``save_image`` on a worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QStandardPaths, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from enhancer import __version__
from enhancer.gui.background import BackgroundCalls
from enhancer.gui.compare_view import SIDE_BY_SIDE_MODE, WIPE_MODE, CompareView
from enhancer.gui.image_convert import image_to_qimage, qimage_to_image
from enhancer.gui.job_panel import JobQueuePanel, format_duration
from enhancer.gui.job_queue import JobQueue, JobState, QueuedJob
from enhancer.gui.library import ImageEntry, ImageLibrary
from enhancer.gui.message_bar import MessageBar
from enhancer.gui.method_panel import MethodPanel
from enhancer.gui.results import InputsPanel, ResultsPanel
from enhancer.gui.save_dialog import FORMAT_SUFFIXES, SaveDialog, free_path, result_file_name
from enhancer.gui.settings import AppSettings
from enhancer.imaging.image import ImageData, ImageError
from enhancer.imaging.io import (
    SUPPORTED_SUFFIXES,
    find_images,
    load_image,
    lossy_conversions,
    same_file,
    save_image,
)
from enhancer.methods.registry import Method, all_methods
from enhancer.methods.user_model import register_user_models
from enhancer.resources import is_resource
from enhancer.runtime.devices import DeviceError, preset_for_device
from enhancer.runtime.estimates import ASK_FIRST_SECONDS, RateBook, job_key, output_megapixels
from enhancer.runtime.model_library import MODEL_SUFFIXES, USER_MODELS_ENV, ModelEntry, ModelLibrary
from enhancer.runtime.runner import Job

OPEN_FILTER = "Images ({});;All files (*)".format(" ".join(f"*{suffix}" for suffix in SUPPORTED_SUFFIXES))


def load_for_display(path: Path) -> tuple[Path, ImageData, QImage]:
    """Read a file and make its display copy (runs on a worker)."""
    image = load_image(path)
    return path, image, image_to_qimage(image)


GETTING_STARTED = """<h3>Which method for which photo</h3>
<p>Open a photo (drag it onto the window, File › Open, or paste), pick a method on the left, press
<b>Enlarge</b>. The time it will take is written above the button before you start; results appear next to
the original, where you can wipe between them or compare up to four side by side.</p>
<table cellspacing="6">
<tr><td><b>Bicubic, Lanczos</b></td><td>any photo, instantly: the plain baselines to compare with.</td></tr>
<tr><td><b>ZSSR</b></td><td>a real photo of unknown origin. <i>fast</i>: about a minute per small photo on a
CPU; <i>quality</i>: sharper, 1-2 hours on a CPU (minutes on a GPU).</td></tr>
<tr><td><b>KernelGAN + ZSSR</b></td><td>a photo that is blurry in its own way (an old camera, a scan): it
estimates that blur first and shows it. <i>fast</i>: a few minutes on a CPU.</td></tr>
<tr><td><b>IRN</b></td><td>shrink a photo for sharing, then restore it later almost exactly (only photos it
shrank itself, kept as PNG).</td></tr>
<tr><td><b>Pixel recursive, faces ×4</b></td><td>a tiny face (8×8 pixels) in an old group photo: draws several
plausible faces to choose from, under a second each on a CPU. The details are invented.</td></tr>
</table>
<p>Save keeps the original's colour profile and camera data. Times measured on our 2-core CPU; see
docs/BENCHMARKS.md.</p>"""


SIDE_DOCK_WIDTHS = (320, 280)  # method panel, results panel: what they get back when the window has room
MIN_VIEW_WIDTH = 480  # the compare view keeps at least this when side panels regain their width


class MainWindow(QMainWindow):
    """Enhancer's one window."""

    def __init__(
        self,
        settings: AppSettings | None = None,
        methods: list[Method] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or AppSettings()
        if self.settings.model_folder is not None and not os.environ.get(USER_MODELS_ENV):
            os.environ[USER_MODELS_ENV] = str(self.settings.model_folder)  # the folder chosen in the app
            register_user_models()
        self.library = ImageLibrary(self)
        self.queue = JobQueue(self)
        self.background = BackgroundCalls(self)
        self._pasted_count = 0
        self._device_summary = "probing devices…"
        self._last_run_device = ""
        self.rates = RateBook()  # this machine's measured speeds, for estimates before a job starts

        self.compare = CompareView()
        self.message_bar = MessageBar()
        self.method_panel = MethodPanel(self.settings, methods)
        self.inputs_panel = InputsPanel(self.library)
        self.results_panel = ResultsPanel(self.library)
        self.job_panel = JobQueuePanel(self.queue)
        self.readout_label = QLabel()
        self.readout_label.setObjectName("readout")
        self.readout_label.setMinimumWidth(1)  # long readouts are cut, never pushing the device label away
        self.device_label = QLabel()
        self.device_label.setObjectName("deviceLabel")

        self._build_layout()
        self._build_menus()
        self._connect()
        self._restore_settings()
        self._update_title()
        self._show_device()
        self.setAcceptDrops(True)
        QTimer.singleShot(0, self._probe_devices)

    # -- building -----------------------------------------------------------------------------------------

    def _build_layout(self) -> None:
        self.setWindowTitle("Enhancer")
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.compare, 1)
        self.setCentralWidget(central)
        self.message_bar.overlay_on(central)
        method_scroll = QScrollArea()
        method_scroll.setWidgetResizable(True)
        method_scroll.setFrameShape(QFrame.Shape.NoFrame)
        method_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        method_scroll.setWidget(self.method_panel)
        self.method_scroll = method_scroll
        method_column = QWidget()
        column = QVBoxLayout(method_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(method_scroll, 1)
        column.addWidget(self.method_panel.footer)
        self.method_panel.layout_changed.connect(lambda: QTimer.singleShot(0, self._fit_method_column))
        self.method_dock = self._dock("Method", method_column, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inputs_dock = self._dock("Images", self.inputs_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.results_dock = self._dock("Results", self.results_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", self.job_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks(
            [self.method_dock, self.results_dock], list(SIDE_DOCK_WIDTHS), Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.inputs_dock, self.results_dock], [150, 400], Qt.Orientation.Vertical)
        self.resizeDocks([self.jobs_dock], [110], Qt.Orientation.Vertical)
        self.statusBar().addWidget(self.readout_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)

    def _fit_method_column(self) -> None:
        """Keep the options column wide enough for its widest row plus a scroll bar: nothing is cut off."""
        needed = (
            self.method_panel.minimumSizeHint().width()
            + self.method_scroll.verticalScrollBar().sizeHint().width()
        )
        self.method_scroll.setMinimumWidth(needed)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(
        self, text: str, slot: Callable[[], object], shortcut: QKeySequence | str | None = None
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("&Open…", self.open_dialog, QKeySequence.StandardKey.Open))
        file_menu.addAction(self._action("Open &folder…", self.open_folder_dialog))
        file_menu.addAction(self._action("Add &model…", self.add_model_dialog))
        file_menu.addAction(self._action("Model fol&der…", self.model_folder_dialog))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self._action("&Paste image", self.paste, QKeySequence.StandardKey.Paste))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Save result…", self.save_dialog, QKeySequence.StandardKey.Save))
        file_menu.addAction(self._action("Save &all results…", self.save_all_dialog, "Ctrl+Shift+S"))
        file_menu.addAction(self._action("&Copy result", self.copy_result, QKeySequence.StandardKey.Copy))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self._action("&Wipe", lambda: self.compare.set_mode(WIPE_MODE), "Ctrl+Shift+W"))
        view_menu.addAction(
            self._action("&Side by side", lambda: self.compare.set_mode(SIDE_BY_SIDE_MODE), "Ctrl+Shift+B")
        )
        view_menu.addSeparator()
        view_menu.addAction(self._action("&Fit", self.compare.fit, "Ctrl+0"))
        for key, percent in enumerate((100, 200, 400, 800), start=1):
            view_menu.addAction(
                self._action(f"{percent} %", lambda p=percent: self.compare.zoom_to(p), f"Ctrl+{key}")
            )
        view_menu.addSeparator()
        for dock in (self.method_dock, self.inputs_dock, self.results_dock, self.jobs_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        theme_menu = view_menu.addMenu("&Theme")
        self.theme_actions = {}
        themes = QActionGroup(self)
        for choice, text in (("system", "Follow the &system"), ("dark", "&Dark"), ("light", "&Light")):
            action = theme_menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(self.settings.theme == choice)
            action.triggered.connect(lambda _checked=False, c=choice: self.set_theme(c))
            themes.addAction(action)
            self.theme_actions[choice] = action

        compare_menu = self.menuBar().addMenu("&Compare")
        compare = self.compare
        for text, slot, keys in (
            ("Focus the &next pane", compare.focus_next_pane, "P"),
            ("Set focused image as &reference", compare.set_reference_from_focus, "R"),
            ("Clear the reference", lambda: compare.set_reference(None), "Shift+R"),
            ("Cycle the view: image, &difference, SSIM map, edges", compare.cycle_view_mode, "D"),
            ("&Loupe on/off", compare.toggle_loupe, "L"),
            ("Loupe stronger", lambda: compare.change_loupe_factor(1), "]"),
            ("Loupe weaker", lambda: compare.change_loupe_factor(-1), "["),
            ("&Before/after in the focused pane", compare.flip_before_after, "Space"),
            ("Zoom &in", lambda: compare.zoom_to(compare.state.zoom * 200), "+"),
            ("Zoom &out", lambda: compare.zoom_to(compare.state.zoom * 50), "-"),
            ("&Fit", compare.fit, "0"),
            ("F&ull screen", self.toggle_full_screen, "F"),
            ("Blind &A/B test of two results (← → ↓ vote, Esc stops)", compare.start_blind_test, "B"),
            ("&Export the comparison…", self.export_comparison, "Ctrl+E"),
            ("Export a &contact sheet…", self.export_contact_sheet, "Ctrl+Shift+E"),
            ("Cop&y the comparison", self.copy_comparison, "Ctrl+Shift+C"),
            ("Copy a contact sheet", lambda: self.export_contact_sheet(to_clipboard=True), "Ctrl+Alt+C"),
        ):
            compare_menu.addAction(self._action(text, slot, keys))
        for number in range(1, 5):
            compare_menu.addAction(
                self._action(
                    f"Result {number} in the focused pane",
                    lambda n=number: compare.put_result_in_focused_pane(n, self._current_results()),
                    str(number),
                )
            )

        jobs_menu = self.menuBar().addMenu("&Jobs")
        jobs_menu.addAction(self._action("&Run", self._run_primary_action, "Ctrl+R"))
        jobs_menu.addAction(self._action("&Cancel all", self.queue.cancel_all))
        jobs_menu.addAction(self._action("C&lear finished", self.job_panel.clear_finished))

        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(
            self._action("&Getting started", self.show_getting_started, QKeySequence.StandardKey.HelpContents)
        )
        help_menu.addAction(self._action("&Keyboard shortcuts", self.show_shortcuts))
        help_menu.addSeparator()
        help_menu.addAction(self._action("&About Enhancer", self._about))

    def _connect(self) -> None:
        self.library.entry_added.connect(self._on_library_changed)
        self.library.entry_removed.connect(self._on_library_changed)
        self.library.current_input_changed.connect(self._on_current_input)
        self.method_panel.run_requested.connect(self.run_method)
        self.method_panel.job_settings_changed.connect(self.update_estimate)
        self.library.current_input_changed.connect(lambda *_: self.update_estimate())
        self.queue.finished.connect(self._on_job_finished)
        self.compare.readout_changed.connect(self._show_readout)
        self.compare.blind_finished.connect(self.show_info)
        self.inputs_panel.close_requested.connect(self.close_input)
        self.results_panel.show_requested.connect(self.compare.show_chosen)
        self.results_panel.save_requested.connect(self.save_dialog)
        self.results_panel.copy_requested.connect(self.copy_result)
        self.results_panel.use_as_input_requested.connect(self.use_as_input)
        self.results_panel.remove_requested.connect(self.library.remove)
        self.results_panel.more_samples_requested.connect(self.draw_more_samples)
        self.results_panel.list.currentItemChanged.connect(self._update_restorable)

    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        if state is not None:
            self.restoreState(state)
        self.compare.set_pane_count(self.settings.pane_count)
        mode = self.settings.compare_mode
        self.compare.set_mode(mode if mode in (WIPE_MODE, SIDE_BY_SIDE_MODE) else SIDE_BY_SIDE_MODE)

    # -- messages and status ------------------------------------------------------------------------------

    def show_error(self, text: str) -> None:
        self.message_bar.show_message(text, "error")

    def show_info(self, text: str) -> None:
        self.message_bar.show_message(text, "info")

    def _probe_devices(self) -> None:
        def probe() -> tuple[str, bool]:
            from enhancer.runtime.devices import cuda_available, describe_devices

            return describe_devices(), cuda_available()

        def done(found: tuple[str, bool]) -> None:
            self._device_summary, cuda = found
            self.method_panel.set_cuda_usable(cuda)
            self._show_device()

        def failed(exc: Exception) -> None:
            self._device_summary = f"device probe failed: {exc}"
            self._show_device()

        self.background.submit(probe, done, failed)

    def _show_device(self) -> None:
        text = self._device_summary
        if self._last_run_device:
            text = f"last run: {self._last_run_device}   │   {text}"
        self.device_label.setText(text)

    def _show_readout(self, text: str) -> None:
        """The pixel readout, cut with an ellipsis where the status bar ends (the whole line in a tooltip)."""
        width = max(self.readout_label.width() - 8, 20)
        self.readout_label.setText(
            self.readout_label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width)
        )
        self.readout_label.setToolTip(text)

    def _update_title(self) -> None:
        current = self.library.current_input
        self.setWindowTitle(f"{current.label} — Enhancer" if current is not None else "Enhancer")

    def set_theme(self, choice: str) -> str:
        """Switch between following the system, dark and light; remembered for the next launch."""
        from enhancer.gui.theme import apply_theme

        self.settings.theme = choice
        if choice in getattr(self, "theme_actions", {}):
            self.theme_actions[choice].setChecked(True)
        app = QApplication.instance()
        return apply_theme(app, choice) if app is not None else choice

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every menu action that has a shortcut, in menu order."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            for action in menu.actions() if menu is not None else []:
                keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if keys:
                    rows.append((keys, action.text().replace("&", "").rstrip("…")))
        rows += [("Wheel", "zoom at the pointer"), ("Drag", "pan (or move the wipe divider)")]
        return rows

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    def _current_results(self) -> list[ImageEntry]:
        """The current input's results; all results when it has none (say, a ground truth just opened)."""
        current = self.library.current_input
        own = [
            entry for entry in self.library.results() if current is not None and entry.root_input is current
        ]
        return own or self.library.results()

    # -- exporting comparisons -------------------------------------------------------------------------------

    def _ask_export_path(self, default_name: str) -> Path | None:
        folder = self._default_folder(self.library.current_input)
        name, _ = QFileDialog.getSaveFileName(self, "Export", str(folder / default_name), "PNG image (*.png)")
        if not name:
            return None
        path = Path(name).with_suffix(".png")
        if self.is_input_file(path):
            self.show_error(
                f"{path.name} is an opened input; choose another name (inputs are never overwritten)"
            )
            return None
        return path

    def _write_picture(self, picture: QImage, path: Path, what: str) -> None:
        image = qimage_to_image(picture)
        self.background.submit(
            lambda: save_image(image, path, overwrite=True),
            lambda _path: self.show_info(f"Exported {what} to {path}"),
            lambda error: self.show_error(f"Could not export {what}: {error}"),
        )

    def export_comparison(self, path: Path | None = None) -> None:
        current = self.library.current_input
        stem = Path(current.label).stem if current is not None else "comparison"
        path = path or self._ask_export_path(f"{stem}_comparison.png")
        if path is not None:
            self._write_picture(self.compare.composition(), path, "the comparison")

    def copy_comparison(self) -> None:
        QGuiApplication.clipboard().setImage(self.compare.composition())
        self.show_info("Copied the comparison to the clipboard")

    def contact_sheet_entries(self) -> list[ImageEntry]:
        current = self.library.current_input
        return [current, *self._current_results()] if current is not None else []

    def export_contact_sheet(self, path: Path | None = None, to_clipboard: bool = False) -> None:
        """The current input and all its results on one sheet, with numbers against the reference."""
        entries = self.contact_sheet_entries()
        if not entries:
            self.show_error("Open an image first")
            return
        if not to_clipboard:
            path = path or self._ask_export_path(f"{Path(entries[0].label).stem}_contact-sheet.png")
            if path is None:
                return
        reference = self.compare.comparison.reference
        title = f"{entries[0].label}: {len(entries) - 1} results" + (
            f" · numbers against {reference.label}" if reference is not None else ""
        )

        def build() -> QImage:
            from enhancer.gui.export import contact_sheet
            from enhancer.imaging import comparison

            numbers = {}
            for entry in entries:
                if (
                    reference is not None
                    and entry is not reference
                    and entry.image.pixels.shape == reference.image.pixels.shape
                ):
                    scores = comparison.compare_scores(
                        entry.image.pixels, reference.image.pixels, 0, entry.image.grey
                    )
                    numbers[id(entry)] = comparison.describe(scores)
                elif entry is reference:
                    numbers[id(entry)] = "reference"
            return contact_sheet(entries, numbers, title)

        def built(sheet: QImage) -> None:
            if to_clipboard:
                QGuiApplication.clipboard().setImage(sheet)
                self.show_info("Copied the contact sheet to the clipboard")
            else:
                self._write_picture(sheet, path, "the contact sheet")

        self.background.submit(
            build, built, lambda error: self.show_error(f"Could not make the sheet: {error}")
        )

    def show_shortcuts(self) -> None:
        lines = "".join(
            f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{what}</td></tr>"
            for keys, what in self.shortcut_rows()
        )
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{lines}</table>")
        box.show()

    def show_getting_started(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("Getting started")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(GETTING_STARTED)
        box.show()

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About Enhancer",
            f"Enhancer {__version__}\nEnlarge and restore photos with research super-resolution methods.",
        )

    # -- opening ------------------------------------------------------------------------------------------

    def open_paths(self, paths: list[Path | str]) -> None:
        """Open files and folders (a folder's images, not recursively); bad files give a message each.
        Model files (.pth, .safetensors, .onnx …) are added as methods instead."""
        given = [Path(p) for p in paths]
        models = [p for p in given if p.suffix.lower() in MODEL_SUFFIXES and p.is_file()]
        if models:
            self.add_model_files(models)
            given = [p for p in given if p not in models]
        if not given:
            return

        def found(files: list[Path]) -> None:
            folders = [p for p in given if p.is_dir()]
            if not files and folders:
                self.show_error(f"No images found in {', '.join(f.name or str(f) for f in folders)}")
            for path in files:
                self.background.submit(
                    lambda p=path: load_for_display(p), self._add_loaded, self._load_failed
                )

        self.background.submit(lambda: find_images(given), found, self._load_failed)

    # -- your own models ----------------------------------------------------------------------------------

    def add_model_dialog(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in MODEL_SUFFIXES)
        names, _ = QFileDialog.getOpenFileNames(
            self, "Add a model", str(Path.home()), f"Model files ({patterns})"
        )
        self.add_model_files([Path(name) for name in names])

    def model_folder_dialog(self) -> None:
        current = ModelLibrary().folder
        name = QFileDialog.getExistingDirectory(self, "Folder of your models", str(current))
        if name:
            self.set_model_folder(Path(name))

    def set_model_folder(self, folder: Path) -> None:
        """Use another folder of models (kept for the next launch); its models replace the listed ones."""
        self.settings.model_folder = folder
        os.environ[USER_MODELS_ENV] = str(folder)
        register_user_models()
        self.method_panel.set_methods(all_methods())
        count = len(ModelLibrary(folder).entries())
        self.show_info(f"Your models now come from {folder} ({count} there)")

    def add_model_files(self, paths: list[Path]) -> None:
        """Detect and copy each model file in the background; it then appears under "Your models"."""
        for path in paths:
            self.show_info(f"Adding model {path.name}…")
            self.background.submit(
                lambda p=path: ModelLibrary().add(p),
                self._model_added,
                lambda error, p=path: self.show_error(f"Could not add {p.name}: {error}"),
            )

    def _model_added(self, entry: ModelEntry) -> None:
        register_user_models()
        self.method_panel.set_methods(all_methods(), select=entry.method_id)
        licence = f", licence {entry.licence}" if entry.licence else ""
        self.show_info(
            f"Added {entry.name}: {entry.architecture} ×{entry.scale}{licence} (under Your models)"
        )

    def _add_loaded(self, loaded: tuple[Path, ImageData, QImage]) -> None:
        path, image, display = loaded
        self.library.add(ImageEntry(label=path.name, image=image, display=display))
        self.settings.add_recent_file(path)
        notices = f": {'; '.join(image.notices)}" if image.notices else ""
        self.show_info(f"Opened {path.name} ({image.width}×{image.height}){notices}")

    def _load_failed(self, exc: Exception) -> None:
        if isinstance(exc, ImageError):
            name = exc.path.name if exc.path is not None else "image"
            self.show_error(f"Could not open {name}: {exc.reason}")
        else:
            self.show_error(f"Could not open: {exc}")

    def open_dialog(self) -> None:
        folder = str(self.settings.recent_files[0].parent) if self.settings.recent_files else ""
        names, _ = QFileDialog.getOpenFileNames(self, "Open images", folder, OPEN_FILTER)
        self.open_paths(names)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open every image in a folder")
        if folder:
            self.open_paths([folder])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            action = self.recent_menu.addAction(str(path))
            action.triggered.connect(lambda _=False, p=path: self.open_paths([p]))
        if recent:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self.settings.clear_recent_files)
        else:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def paste(self) -> None:
        """Open the clipboard's image, or the files it names."""
        self.open_mime_data(QGuiApplication.clipboard().mimeData(), "The clipboard holds no image or file")

    def open_mime_data(self, mime: QMimeData | None, nothing_message: str) -> bool:
        """Open what a drop or paste carries: local files and folders first, else image data."""
        files = [Path(url.toLocalFile()) for url in (mime.urls() if mime else []) if url.isLocalFile()]
        if files:
            self.open_paths(files)
            return True
        if mime is not None and mime.hasImage():
            try:
                image = qimage_to_image(mime.imageData())
            except (TypeError, ValueError) as exc:
                self.show_error(f"Could not use the pasted image: {exc}")
                return False
            self._pasted_count += 1
            label = f"pasted-{self._pasted_count}"
            self.library.add(ImageEntry(label=label, image=image, display=image_to_qimage(image)))
            self.show_info(f"Pasted an image ({image.width}×{image.height})")
            return True
        self.show_error(nothing_message)
        return False

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if any(url.isLocalFile() for url in mime.urls()) or mime.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.open_mime_data(event.mimeData(), "Nothing in that drop could be opened"):
            event.acceptProposedAction()

    # -- inputs and results --------------------------------------------------------------------------------

    def _on_library_changed(self, _entry: ImageEntry) -> None:
        self.compare.set_entries(self.library.entries())

    def _on_current_input(self, entry: ImageEntry | None) -> None:
        self._update_restorable()
        self.compare.show_input(entry, self.library.results_of(entry) if entry is not None else [])
        self._update_title()

    def restore_source(self) -> ImageEntry | None:
        """What Restore works on: the current image if IRN made it, else the selected result if IRN made it."""
        current = self.library.current_input
        if current is not None and current.made_by_irn:
            return current
        selected = self.results_panel.current_entry()
        return selected if selected is not None and selected.made_by_irn else None

    def _update_restorable(self, *_args: object) -> None:
        self.method_panel.set_input(self.library.current_input, self.restore_source() is not None)

    def close_input(self, entry: ImageEntry) -> None:
        """Close an opened image and the results made from it."""
        for result in self.library.results_of(entry):
            self.library.remove(result)
        self.library.remove(entry)

    def use_as_input(self, entry: ImageEntry) -> None:
        """Open a result as a new input (e.g. to restore an image IRN shrank)."""
        self.library.add(ImageEntry(label=entry.label, image=entry.image, display=entry.display))

    def current_result(self) -> ImageEntry | None:
        """The result selected in the results list, else the newest one."""
        selected = self.results_panel.current_entry()
        if selected is not None:
            return selected
        results = self.library.results()
        return results[-1] if results else None

    # -- running --------------------------------------------------------------------------------------------

    def _run_primary_action(self) -> None:
        method = self.method_panel.selected_method()
        if method is not None and method.actions:
            self.run_method(method.actions[0], self.method_panel.every_image_box.isChecked())

    def run_method(self, action: str, every_open_image: bool = False) -> list[QueuedJob]:
        """Queue the panel's method on the current image (or on every open image)."""
        method = self.method_panel.selected_method()
        current = self.library.current_input
        if method is None:
            self.show_error("No method is available")
            return []
        targets = self.library.inputs() if every_open_image else ([current] if current is not None else [])
        if action == "restore":
            targets = [entry for entry in targets if entry.made_by_irn]
            source = self.restore_source()
            if not targets and source is not None:
                targets = [source]
        if not targets:
            self.show_error("Open an image first" if action != "restore" else "No image here was made by IRN")
            return []
        scale = self.method_panel.scale()
        queued: list[QueuedJob] = []
        options, device = self.method_panel.option_values(), self.method_panel.device()
        for entry in list(targets):
            twin = self._same_job_pending(entry, method.id, scale, options, device, action)
            if twin is not None and not self.confirm_duplicate(twin.label):
                targets.remove(entry)
        for entry in targets:
            job_options = dict(options)
            told = self.estimate_for(entry, method.id, job_options, scale, action, device)
            if told is not None and told[0].seconds > ASK_FIRST_SECONDS:
                fast = None
                if job_options.get("preset") and preset_for_device(job_options["preset"], device) != "fast":
                    quick = self.estimate_for(
                        entry, method.id, {**job_options, "preset": "fast"}, scale, action, device
                    )
                    fast = quick[0].text() if quick else None
                answer = self.confirm_long_job(
                    f"{method.name} ×{scale} on {entry.label}", told[0].text(), fast
                )
                if answer == "cancel":
                    continue
                if answer == "fast":
                    job_options["preset"] = "fast"
                    told = self.estimate_for(entry, method.id, job_options, scale, action, device)
            job = Job(
                source=entry.image,
                method_id=method.id,
                scale=scale,
                options=job_options,
                device=device,
                action=action,
                tile_size=self.method_panel.tile_size(),
            )
            verb = "" if action == "upscale" else f" {action}"
            preset = job.options.get("preset")
            named = f"{method.id} {preset_for_device(preset, job.device)}" if preset else method.id
            try:
                submitted = self.queue.submit(
                    job, label=f"{entry.label} · {named}{verb} ×{scale}", made_from=entry
                )
                if told is not None:
                    submitted.estimate = (told[1], told[2], told[3], told[0].seconds)
                queued.append(submitted)
            except (ValueError, KeyError) as exc:
                message = str(exc.args[0]) if isinstance(exc, KeyError) else str(exc)
                self.method_panel.show_error(message)
                self.show_error(f"{method.name}: {message}")
                return queued
        self.method_panel.show_error("")
        self.method_panel.remember()
        return queued

    def estimate_for(
        self, entry: ImageEntry, method_id: str, options: dict, scale: int, action: str, device: str
    ):
        """(Estimate, rate key, output MP, samples) of a job on ``entry``, or None if it cannot be told."""
        if scale < 1:
            return None
        try:
            key, samples = job_key(method_id, options, scale, action, device)
        except (DeviceError, ValueError):
            return None
        output_mp = output_megapixels(entry.image.width, entry.image.height, scale, action)
        return self.rates.estimate(key, output_mp, samples), key, output_mp, samples

    def update_estimate(self) -> None:
        """The panel's line "About 40 s on this CPU" for the current image with the panel's settings."""
        method, entry = self.method_panel.selected_method(), self.library.current_input
        told = None
        if method is not None and entry is not None and method.actions:
            told = self.estimate_for(
                entry,
                method.id,
                self.method_panel.option_values(),
                self.method_panel.scale(),
                method.actions[0],
                self.method_panel.device(),
            )
        text = told[0].text() if told else ""
        self.method_panel.estimate_label.setText(text[:1].upper() + text[1:])
        self.method_panel.estimate_label.setVisible(bool(text))

    def confirm_long_job(self, label: str, estimate: str, fast: str | None) -> str:
        """``run``, ``fast`` or ``cancel`` for a job estimated over ASK_FIRST_SECONDS."""
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("This will take a while")
        box.setText(f"{label} will take {estimate}.")
        fast_button = None
        if fast is not None:
            box.setInformativeText(f"The fast preset would take {fast}, with a little less detail.")
            fast_button = box.addButton("Use fast", QMessageBox.ButtonRole.AcceptRole)
        run_button = box.addButton("Run anyway", QMessageBox.ButtonRole.YesRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(fast_button or run_button)
        box.exec()
        clicked = box.clickedButton()
        return (
            "fast" if clicked is fast_button and fast_button else "run" if clicked is run_button else "cancel"
        )

    def _same_job_pending(
        self, entry: ImageEntry, method_id: str, scale: int, options: dict, device: str, action: str
    ) -> QueuedJob | None:
        """A queued or running job that would make the very same result, if any."""
        for pending in self.queue.pending():
            job = pending.job
            same = (job.method_id, job.scale, job.action, job.device) == (method_id, scale, action, device)
            if same and pending.made_from is entry and job.options == options:
                return pending
        return None

    def confirm_duplicate(self, label: str) -> bool:
        """Ask before queueing a job that is already queued or running (a double click on Run)."""
        return self._ask_yes_no(
            "Run it again?", f"{label} is already queued or running.\nQueue the same job again?"
        )

    def _ask_yes_no(self, title: str, text: str) -> bool:
        """A question whose safe answer, No, is the default."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        answer = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def draw_more_samples(self, entry: ImageEntry) -> QueuedJob | None:
        """Queue the job that made ``entry`` again with the next seeds: new samples of the same input."""
        result, source = entry.result, entry.made_from
        if result is None or not result.samples or source is None or source not in self.library.entries():
            return None
        info = result.info
        count = len(result.samples)
        seed = int(info.get("seed", "0")) + count  # sample k used seed + k: the next seeds are all new
        job = Job(
            source=source.image,
            method_id=info["method"],
            scale=int(info["scale"]),
            options={"samples": count, "temperature": float(info["temperature"])},
            device=self.method_panel.device(),
            seed=seed,
        )
        label = f"{source.label} · {info['method']} ×{job.scale} · seed {seed}"
        return self.queue.submit(job, label=label, made_from=source)

    def _on_job_finished(self, queued: QueuedJob) -> None:
        if queued.state is JobState.CANCELLED:
            self.show_info(f"Cancelled {queued.label}")
            return
        if queued.state is JobState.FAILED:
            self.show_error(f"{queued.label} failed: {queued.message}")
            return
        result, source = queued.result, queued.made_from
        if result is None or queued.display is None:
            return
        result.info.setdefault("action", queued.job.action)
        if queued.estimate is not None and queued.seconds:
            key, output_mp, samples, _ = queued.estimate
            self.rates.record(key, output_mp, queued.seconds, samples)
            self.update_estimate()
        device = result.info.get("device", "")
        self._last_run_device = {"cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)"}.get(device, device) or "?"
        self._show_device()
        if source is None or source not in self.library.entries():
            self.show_info(f"{queued.label} finished, but its image was closed")
            return
        entry = ImageEntry(
            label=queued.label if len(result.samples) < 2 else f"{queued.label} · sample 1",
            image=result.image,
            display=queued.display,
            result=result,
            made_from=source,
        )
        self.library.add(entry)
        for number, sample in enumerate(result.samples[1:], start=2):
            # Samples are small (a generative method's 32x32 faces): converting them here is instant.
            self.library.add(
                ImageEntry(
                    label=f"{queued.label} · sample {number}",
                    image=sample,
                    display=image_to_qimage(sample),
                    result=result,
                    made_from=source,
                )
            )

        if (
            self.library.current_input is not None
            and entry.root_input is self.library.current_input.root_input
        ):
            self.compare.show_result(entry)
        took = f" in {format_duration(queued.seconds)}" if queued.seconds is not None else ""
        drawn = f"; {len(result.samples)} samples: {result.info['note']}" if len(result.samples) > 1 else ""
        if "warning" in result.info:  # a result the user must not take at face value: the message stays
            self.show_error(f"{queued.label}: done{took}, but {result.info['warning']}")
        else:
            self.show_info(f"{queued.label}: done{took} ({entry.size_text}){drawn}")

    # -- saving ---------------------------------------------------------------------------------------------

    def _default_folder(self, entry: ImageEntry | None) -> Path:
        """Where Save starts: the last folder saved to, else the input's own folder; for a bundled sample
        (inside the install), a file in a hidden folder or a pasted image, the user's Pictures folder."""
        if self.settings.output_folder is not None:
            return self.settings.output_folder
        source = entry.root_input.image.source if entry is not None else None
        hidden = source is not None and any(part.startswith(".") for part in source.parent.parts)
        if source is not None and not hidden and not is_resource(source):
            return source.parent
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures) if pictures and Path(pictures).is_dir() else Path.home()

    def is_input_file(self, path: Path) -> bool:
        return any(same_file(path, source) for source in self.library.source_paths())

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before writing over an existing file (never an input: those are refused outright)."""
        return self._ask_yes_no("Replace file?", f"{path.name} already exists in {path.parent}.\nReplace it?")

    def save_dialog(self, entry: ImageEntry | None = None) -> None:
        entry = entry or self.current_result()
        if entry is None:
            self.show_error("No result to save yet")
            return
        suffix = FORMAT_SUFFIXES.get(self.settings.save_format, ".png")
        dialog = SaveDialog(
            self._default_folder(entry),
            result_file_name(entry, suffix),
            self.settings.save_format,
            self.settings.save_quality,
            self,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.settings.save_format = dialog.format_name()
        self.settings.save_quality = dialog.quality()
        self.save_entry(entry, dialog.target_path(), dialog.quality())

    def save_entry(self, entry: ImageEntry, path: Path, quality: int = 95) -> None:
        """Write one result (on a worker); an input is never written over, another file only if confirmed."""
        path = Path(path)
        if self.is_input_file(path):
            self.show_error(
                f"{path.name} is an opened input; choose another name (inputs are never overwritten)"
            )
            return
        overwrite = False
        if path.exists():
            if not self.confirm_overwrite(path):
                return
            overwrite = True
        protect = self.library.source_paths()
        image = entry.image
        lost = lossy_conversions(image, None, path)
        self.background.submit(
            lambda: save_image(image, path, quality=quality, overwrite=overwrite, protect=protect),
            lambda written: self._saved([written], lost),
            self._save_failed,
        )

    def save_all_dialog(self) -> None:
        results = self.library.results()
        if not results:
            self.show_error("No results to save yet")
            return
        dialog = SaveDialog(
            self._default_folder(results[-1]),
            None,
            self.settings.save_format,
            self.settings.save_quality,
            self,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        self.settings.save_format = dialog.format_name()
        self.settings.save_quality = dialog.quality()
        self.save_all(results, dialog.folder(), dialog.suffix(), dialog.quality())

    def save_all(self, results: list[ImageEntry], folder: Path, suffix: str, quality: int = 95) -> None:
        """Write every result into ``folder`` under free names (nothing is overwritten), on a worker."""
        protect = self.library.source_paths()
        jobs = [(entry.image, result_file_name(entry, suffix)) for entry in results]

        def write_all() -> tuple[list[Path], list[ImageError]]:
            written, failures = [], []
            for image, name in jobs:
                try:
                    written.append(
                        save_image(image, free_path(folder / name), quality=quality, protect=protect)
                    )
                except ImageError as exc:
                    failures.append(exc)
            return written, failures

        def done(outcome: tuple[list[Path], list[ImageError]]) -> None:
            written, failures = outcome
            self._saved(written)
            for exc in failures:
                self._save_failed(exc)

        self.background.submit(write_all, done, self._save_failed)

    def _saved(self, paths: list[Path], lost: list[str] | None = None) -> None:
        if not paths:
            return
        self.settings.output_folder = paths[-1].parent
        shown = paths[0].name if len(paths) == 1 else f"{len(paths)} files"
        if lost:  # a lossy conversion the user chose by the suffix: said, and the message stays
            self.show_error(f"Saved {shown} in {paths[-1].parent}, but {'; '.join(lost)}")
        else:
            self.show_info(f"Saved {shown} in {paths[-1].parent}")

    def _save_failed(self, exc: Exception) -> None:
        reason = exc.reason if isinstance(exc, ImageError) else str(exc)
        name = exc.path.name if isinstance(exc, ImageError) and exc.path is not None else "result"
        self.show_error(f"Could not save {name}: {reason}")

    def copy_result(self, entry: ImageEntry | None = None) -> None:
        entry = entry or self.current_result()
        if entry is None:
            self.show_error("No result to copy yet")
            return
        QGuiApplication.clipboard().setImage(entry.display)
        self.show_info(f"Copied {entry.label} ({entry.size_text}) to the clipboard")

    # -- closing -------------------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() > event.oldSize().width() > 0:
            QTimer.singleShot(0, self._recover_dock_widths)

    def _recover_dock_widths(self) -> None:
        """Give the side panels back the width a narrow window took from them, once there is room again."""
        docks = [self.method_dock, self.results_dock]
        widths = [max(dock.width(), wanted) for dock, wanted in zip(docks, SIDE_DOCK_WIDTHS, strict=True)]
        room = self.width() - MIN_VIEW_WIDTH
        if sum(widths) <= room and widths != [dock.width() for dock in docks]:
            self.resizeDocks(docks, widths, Qt.Orientation.Horizontal)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.settings.compare_mode = self.compare.mode
        self.settings.pane_count = self.compare.pane_count
        self.method_panel.remember()
        self.settings.sync()
        self.queue.shutdown(5000)
        self.background.wait(5000)
        super().closeEvent(event)
