"""Blind A/B: names hidden, sides shuffled per spot, votes by arrow keys, an honest tally."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from enhancer.gui.blind_test import LEFT, RIGHT, SAME, BlindTest
from tests.gui.conftest import gradient_image
from tests.gui.test_compare_view import entry_of, view  # noqa: F401  (the fixture)


def _two():
    source = entry_of(gradient_image(24, 16), "photo.png")
    a = entry_of(gradient_image(48, 32), "photo.png · zssr fast ×2", made_from=source)
    b = entry_of(gradient_image(48, 32), "photo.png · bicubic ×2", made_from=source)
    return source, a, b


def test_votes_count_for_the_image_that_was_on_that_side():
    _source, a, b = _two()
    test = BlindTest.start(a, b, rounds=20, seed=1)
    sides_seen = {round_.a_on_left for round_ in test.rounds}
    assert sides_seen == {True, False}, "sides are shuffled"
    always_a = 0
    while not test.finished:
        left, _right = test.sides()
        test.vote(LEFT if left is a else RIGHT)  # a voter who always picks a, wherever it is
        always_a += 1
    assert test.tally() == {a.label: 20, b.label: 0, SAME: 0} and always_a == 20
    assert "zssr fast ×2 better at 20" in test.summary()
    with pytest.raises(ValueError, match="over"):
        test.vote(SAME)
    with pytest.raises(ValueError, match="two different"):
        BlindTest.start(a, a)


def test_the_app_hides_names_and_takes_votes_from_the_arrow_keys(view, qtbot):  # noqa: F811
    source, a, b = _two()
    view.set_entries([source, a, b])
    view.show_in_pane(0, a)
    view.show_in_pane(1, b)
    test = view.start_blind_test(rounds=3, seed=2)
    assert test is not None and view.comparison.blind
    assert not any(pane.chooser.isVisible() for pane in view.panes[:2]), "names are hidden"
    assert view.state.zoom == pytest.approx(4.0)
    with qtbot.waitSignal(view.blind_finished) as finished:
        for key in (Qt.Key.Key_Left, Qt.Key.Key_Down, Qt.Key.Key_Right):
            QTest.keyClick(view, key)
    assert finished.args[0].startswith("Blind test, 3 spots:")
    assert view.blind is None and all(pane.chooser.isVisible() for pane in view.panes[:2])
    assert sum(test.tally().values()) == 3 and test.tally()[SAME] == 1
