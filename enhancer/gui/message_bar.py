"""Messages above the compare view that never block the app (a bad file, a finished job, a failed save)."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

INFO_MESSAGE_MS = 8000


class MessageBar(QFrame):
    """Messages above the compare view that never block: errors stay until closed, notes fade."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.history: list[tuple[str, str]] = []
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.label, 1)
        row.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)
        self.hide()

    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text``; ``level`` is ``info`` (hides after a while) or ``error`` (stays)."""
        self.history.append((level, text))
        self.label.setText(text)
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        if level == "error":
            self._timer.stop()
        else:
            self._timer.start(INFO_MESSAGE_MS)

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def errors(self) -> list[str]:
        return [text for level, text in self.history if level == "error"]
