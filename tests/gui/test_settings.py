from pathlib import Path

from enhancer.gui.settings import MAX_RECENT_FILES, AppSettings


def test_values_survive_a_new_settings_object(tmp_path):
    first = AppSettings(tmp_path / "s.ini")
    first.device = "cpu"
    first.tile_size = 256
    first.output_folder = tmp_path / "out"
    first.set_options_for("zssr", {"preset": "fast", "iterations": None})
    first.sync()
    second = AppSettings(tmp_path / "s.ini")
    assert (second.device, second.tile_size, second.output_folder) == ("cpu", 256, tmp_path / "out")
    assert second.options_for("zssr") == {"preset": "fast", "iterations": None}
    assert second.options_for("unknown") == {}


def test_recent_files_are_newest_first_without_repeats(tmp_path):
    settings = AppSettings(tmp_path / "s.ini")
    for index in range(MAX_RECENT_FILES + 3):
        settings.add_recent_file(tmp_path / f"{index}.png")
    settings.add_recent_file(tmp_path / "5.png")
    recent = settings.recent_files
    assert len(recent) == MAX_RECENT_FILES
    assert recent[0] == (tmp_path / "5.png").resolve()
    assert len(set(recent)) == len(recent)
    assert all(isinstance(path, Path) for path in recent)
