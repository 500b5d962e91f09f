"""The samples gallery of a generative method (pixelrsr) in a real window offscreen, on a small model."""

from __future__ import annotations

import pytest
import torch

from enhancer.gui.job_queue import JobState
from enhancer.imaging.io import save_image
from enhancer.methods import irn
from enhancer.nets.pixelrsr import PixelRecursiveSR
from enhancer.train.pixelrsr_export import export_pixelrsr
from tests.gui.conftest import gradient_image
from tests.gui.test_main_window import JOB_TIMEOUT_MS, open_and_wait, run_and_wait


@pytest.fixture(autouse=True)
def small_pixelrsr(tmp_path, monkeypatch):
    torch.manual_seed(0)
    network = PixelRecursiveSR(prior_layers=2, prior_channels=6, conditioning_channels=6, levels=16)
    export_pixelrsr(network, tmp_path / "models")
    monkeypatch.setenv(irn.MODELS_ENV, str(tmp_path / "models"))


def test_samples_appear_as_a_gallery_and_more_can_be_drawn(window, qtbot, tmp_path):
    face = save_image(gradient_image(16, 16), tmp_path / "face.png")
    open_and_wait(window, qtbot, face)
    window.method_panel.select_method("pixelrsr")
    assert window.method_panel.option_values()["samples"] == 4  # the app's default; the CLI's is 1
    (queued,) = run_and_wait(window, qtbot, "pixelrsr", scale=4)
    assert queued.state is JobState.DONE, queued.message
    results = window.library.results()
    assert len(results) == 4 and all(r.size_text == "32×32" for r in results)
    assert "invented" in window.message_bar.history[-1][1]
    panel = window.results_panel
    panel.select(results[0])
    gallery = panel.samples_gallery
    assert gallery.isVisible() and gallery.count() == 4
    assert gallery.iconSize().width() == 128

    item = gallery.item(2)
    panel._on_sample_clicked(item)
    assert window.compare.pane_entries()[-1] is results[2]
    assert panel.current_entry() is results[2] and gallery.count() == 4

    more = window.draw_more_samples(results[0])
    qtbot.waitUntil(lambda: more.state.finished, timeout=JOB_TIMEOUT_MS)
    assert more.state is JobState.DONE, more.message
    assert more.job.seed == int(results[0].result.info["seed"]) + 4
    assert len(window.library.results()) == 8


def test_gallery_is_hidden_for_ordinary_results(window, qtbot, image_file):
    open_and_wait(window, qtbot, image_file)
    run_and_wait(window, qtbot, "bicubic", scale=2)
    window.results_panel.select(window.library.results()[-1])
    assert not window.results_panel.samples_gallery.isVisible()
