"""``python -m enhancer.gui.screenshot OUT.png``: a picture of the real window with the sample and real results.

It drives the app as a user would (open the sample, run methods through the job queue, compare), then grabs
the window. Run it under a display server, e.g. ``xvfb-run -s "-screen 0 1600x1000x24" python -m ...``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEventLoop, QPointF
from PySide6.QtWidgets import QApplication

from enhancer.gui.app import create_application
from enhancer.gui.compare_view import SIDE_BY_SIDE_MODE, WIPE_MODE
from enhancer.gui.main_window import MainWindow
from enhancer.gui.settings import AppSettings


def wait_until(app: QApplication, condition: Callable[[], object], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(app: QApplication, seconds: float = 0.3) -> None:
    """Let layouts, paints and queued signals run for a moment."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m enhancer.gui.screenshot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, help="PNG to write")
    parser.add_argument(
        "--image", type=Path, default=None, help="image to open (default: the bundled sample)"
    )
    parser.add_argument(
        "--methods",
        default="bicubic,lanczos",
        help="methods to run, comma-separated; METHOD:ACTION for another action (e.g. irn:restore)",
    )
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument(
        "--option", action="append", default=[], help="METHOD.NAME=VALUE, e.g. zssr.preset=fast"
    )
    parser.add_argument("--mode", choices=(SIDE_BY_SIDE_MODE, WIPE_MODE), default=SIDE_BY_SIDE_MODE)
    parser.add_argument("--zoom", type=int, default=0, help="zoom in percent (default: fit)")
    parser.add_argument("--centre", default="", help="X,Y in pixels of the largest image to centre on")
    parser.add_argument("--size", default="1440x900", help="window size, WxH")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the jobs")
    parser.add_argument("--select", default=None, help="method whose panel shows at the end")
    parser.add_argument("--advanced", action="store_true", help="with the Advanced options unfolded")
    parser.add_argument(
        "--reference", type=Path, default=None, help="a ground truth to open, show first and compare against"
    )
    parser.add_argument("--view-mode", default="image", help="image, difference, ssim or edges")
    parser.add_argument("--gain", type=int, default=4, help="difference amplification")
    parser.add_argument("--loupe", default="", help="X,Y: show the loupe there (pixels of the largest image)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_application()
    width, height = (int(part) for part in args.size.lower().split("x"))
    if args.image is None:
        from enhancer.samples import sample_image_path

        args.image = sample_image_path()
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(AppSettings(Path(folder) / "settings.ini"))
        window.resize(width, height)
        window.show()
        window.open_paths([args.image])
        wait_until(app, lambda: window.library.current_input is not None, 60)
        methods = [name.strip() for name in args.methods.split(",") if name.strip()]
        window.compare.set_pane_count(min(max(len(methods) + 1, 2), 4))
        queued = []
        for method in methods:
            method_id, _, action = method.partition(":")
            window.method_panel.select_method(method_id)
            window.method_panel.set_scale(args.scale)
            prefix = f"{method_id}."
            values = dict(
                item[len(prefix) :].split("=", 1) for item in args.option if item.startswith(prefix)
            )
            window.method_panel.set_option_values(values)
            queued += window.run_method(action or "upscale")
        wait_until(app, lambda: all(job.state.finished for job in queued), args.timeout)
        window.compare.set_mode(args.mode)
        if args.reference is not None:
            count = len(window.library.inputs())
            window.open_paths([args.reference])
            wait_until(app, lambda: len(window.library.inputs()) > count, 60)
            truth = window.library.inputs()[-1]
            settle(app)
            for index, result in enumerate(
                window.library.results()[:3], start=1
            ):  # opening showed the truth alone
                window.compare.show_in_pane(index, result)
            window.compare.show_in_pane(0, truth)
            window.compare.set_reference(truth)
        window.compare.gain_box.setCurrentIndex(window.compare.gain_box.findData(args.gain))
        window.compare.set_view_mode(args.view_mode)
        if args.select:
            window.method_panel.select_method(args.select)
        window.method_panel.advanced_toggle.setChecked(args.advanced)
        settle(app)
        if args.zoom:
            window.compare.zoom_to(args.zoom)
        if args.centre:
            x, y = (float(part) for part in args.centre.split(","))
            window.compare.state.centre_on(QPointF(x, y))
        canvas = window.compare.canvases()[-1]
        centre = canvas.state.to_view(window.compare.state.centre, canvas.view_size()).toPoint()
        window.compare.readout_changed.emit(window.compare.readout_at(canvas.reference_point(centre)))
        if args.loupe:
            x, y = (float(part) for part in args.loupe.split(","))
            window.compare.toggle_loupe()
            window.compare._on_hovered(QPointF(x, y))
        wait_until(app, lambda: not window.compare.comparison.busy, 120)
        settle(app, 0.8)
        wait_until(app, lambda: not window.compare.comparison.busy, 120)
        settle(app, 0.3)
        picture = window.grab()
        window.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not picture.save(str(args.out)):
        print(f"could not write {args.out}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({picture.width()}x{picture.height()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
