"""A blind A/B test between two results: names hidden, sides shuffled, one vote per spot, a tally at the end.

How designers keep themselves honest: knowing which method made a picture changes how good it looks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from enhancer.gui.library import ImageEntry

LEFT, RIGHT, SAME = "left", "right", "same"
DEFAULT_ROUNDS = 8
SPOT_MARGIN = 0.1  # spots are drawn away from the borders (a tenth of each side)
BLIND_ZOOM_PERCENT = 400


@dataclass(frozen=True)
class BlindRound:
    x: float  # the spot, in pixels of the larger image
    y: float
    a_on_left: bool


@dataclass
class BlindTest:
    a: ImageEntry
    b: ImageEntry
    rounds: list[BlindRound]
    votes: list[str] = field(default_factory=list)  # per round: a's label, b's label or "same"

    @classmethod
    def start(
        cls, a: ImageEntry, b: ImageEntry, rounds: int = DEFAULT_ROUNDS, seed: int | None = None
    ) -> BlindTest:
        if a is b:
            raise ValueError("a blind test needs two different images")
        rng = random.Random(seed)
        width = max(a.image.width, b.image.width)
        height = max(a.image.height, b.image.height)
        spots = [
            BlindRound(
                rng.uniform(SPOT_MARGIN, 1 - SPOT_MARGIN) * width,
                rng.uniform(SPOT_MARGIN, 1 - SPOT_MARGIN) * height,
                rng.random() < 0.5,
            )
            for _ in range(rounds)
        ]
        return cls(a, b, spots)

    @property
    def finished(self) -> bool:
        return len(self.votes) >= len(self.rounds)

    @property
    def current(self) -> BlindRound:
        return self.rounds[min(len(self.votes), len(self.rounds) - 1)]

    def sides(self) -> tuple[ImageEntry, ImageEntry]:
        """(left, right) for the current round."""
        round_ = self.current
        return (self.a, self.b) if round_.a_on_left else (self.b, self.a)

    def vote(self, side: str) -> None:
        if self.finished:
            raise ValueError("the test is over")
        if side not in (LEFT, RIGHT, SAME):
            raise ValueError(f"a vote is left, right or same, not {side!r}")
        left, right = self.sides()
        self.votes.append(SAME if side == SAME else (left if side == LEFT else right).label)

    def tally(self) -> dict[str, int]:
        counts = {self.a.label: 0, self.b.label: 0, SAME: 0}
        for vote in self.votes:
            counts[vote] += 1
        return counts

    def summary(self) -> str:
        counts = self.tally()
        return (
            f"Blind test, {len(self.votes)} spots: {self.a.short_label} better at {counts[self.a.label]}, "
            f"{self.b.short_label} better at {counts[self.b.label]}, no difference at {counts[SAME]}"
        )
