"""The status bar's account of the engine: its activity, its device, the index size, and
why indexing stopped when it did (a full disk, a damaged index, with a button to rebuild it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

LOADING = "Loading the model… (exact-word search works now)"
PROBLEMS = {  # status["problem"]["kind"] -> the line; the engine's whole account is its tooltip
    "disk_full": "Indexing paused: the disk is full. It goes on by itself once there is space.",
    "database_corrupt": "The index is damaged: searches may miss files, and nothing new is "
                        "indexed.",
}
REBUILDING = "Rebuilding the index… your folders are indexed again."


class EngineStatusLine:
    """Three labels in a status bar, fed by the engine's status reports and events, and a
    Rebuild button shown only while the engine reports a damaged index."""

    def __init__(self, bar: QStatusBar, rebuild: Callable[[], object] | None = None) -> None:
        self.activity = QLabel("Starting the engine…")
        self.device = QLabel()
        self.size = QLabel()
        self.rebuild_button = QPushButton("Rebuild index")
        self.rebuild_button.setToolTip(
            "Set the damaged index aside (nothing is deleted) and index your pinned folders "
            "again. Your folders and settings are kept."
        )
        self.rebuild_button.hide()
        self._rebuild = rebuild
        self._rebuild_asked = False  # until the engine stops reporting the damage
        self.rebuild_button.clicked.connect(self._on_rebuild_button_clicked)
        bar.addWidget(self.activity, 1)
        bar.addPermanentWidget(self.rebuild_button)
        bar.addPermanentWidget(self.size)
        bar.addPermanentWidget(self.device)

    def _on_rebuild_button_clicked(self) -> None:
        if self._rebuild is not None:
            self._rebuild()
        self._rebuild_asked = True
        self.rebuild_button.setEnabled(False)
        self.say(REBUILDING)

    def say(self, text: str) -> None:
        self.activity.setText(text)

    def show_model_loading(self, model: str) -> None:
        self.say(f"Loading the model {model}… (exact-word search works now)")

    def show_device(self, device: str, precision: str, detail: str) -> None:
        self.device.setText(f"{device.upper()} {precision}")
        self.device.setToolTip(detail)

    def show_progress(self, queued: int, rate: float, eta: float | None) -> None:
        if not queued:
            self.say("Up to date")
            return
        parts = [f"Indexing: {queued:,} files to go"]
        if rate:
            parts.append(f"{rate:.1f} files/s")
        if eta:
            parts.append(f"about {_duration(eta)} left")
        self.say(" · ".join(parts))

    def show_status(self, status: dict[str, Any]) -> None:
        if status.get("device"):
            detail = status.get("note") or status.get("model", "")
            self.show_device(status["device"], status["precision"], detail)
        self.size.setText(f"{status.get('passages', 0):,} passages")
        if self._show_problem(status.get("problem")):
            return
        activity = status.get("engine", {}).get("activity", "")
        if activity == "loading model":
            self.say(LOADING)
        elif status.get("queue"):
            self.show_progress(status["queue"], status.get("rate", 0.0), status.get("eta_seconds"))
        elif activity == "paused":
            self.say("Indexing paused")
        elif activity in ("idle", "indexing", "scanning"):
            self.say("Up to date" if activity == "idle" else "Looking for changes…")

    def _show_problem(self, problem: Any) -> bool:
        """Say why indexing stopped, if the engine says it did; False when all is well."""
        kind = problem.get("kind") if isinstance(problem, dict) else None
        damaged = kind == "database_corrupt"
        self._rebuild_asked = self._rebuild_asked and damaged
        self.rebuild_button.setVisible(damaged)
        self.rebuild_button.setEnabled(damaged and not self._rebuild_asked)
        self.activity.setToolTip(str(problem.get("message", "")) if kind else "")
        if kind is None:
            return False
        line = REBUILDING if self._rebuild_asked else PROBLEMS.get(str(kind), str(kind))
        self.say(line)
        return True


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
