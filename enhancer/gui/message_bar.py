"""Messages above the compare view that never block the app (a bad file, a finished job, a failed save)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

INFO_MESSAGE_MS = 8000
OVERLAY_MARGIN = 12


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

    def overlay_on(self, host: QWidget) -> None:
        """Float over the bottom of ``host`` instead of taking a row of its layout: a message never pushes
        the pictures around."""
        self.setParent(host)
        host.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        host = self.parentWidget()
        if host is None:
            return
        width = max(host.width() - 2 * OVERLAY_MARGIN, 100)
        height = self.heightForWidth(width) if self.hasHeightForWidth() else self.sizeHint().height()
        height = max(height, self.sizeHint().height())
        self.setGeometry(OVERLAY_MARGIN, host.height() - height - OVERLAY_MARGIN, width, height)
        self.raise_()

    def show_message(self, text: str, level: str = "info") -> None:
        """Show ``text``; ``level`` is ``info`` (hides after a while) or ``error`` (stays)."""
        self.history.append((level, text))
        self.label.setText(text)
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.show()
        self._place()
        if level == "error":
            self._timer.stop()
        else:
            self._timer.start(INFO_MESSAGE_MS)

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""

    def errors(self) -> list[str]:
        return [text for level, text in self.history if level == "error"]
