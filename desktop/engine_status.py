"""The status bar's account of the engine: its activity, its device, the index size, and
why indexing stopped when it did (a full disk, a damaged index, with a button to rebuild it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton, QStatusBar

from desktop.engine_signals import EngineSignals

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

    def __init__(self, bar: QStatusBar, rebuild: Callable[[], object] | None = None,
                 link: EngineSignals | None = None) -> None:
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
        self.ocr = QLabel()  # "Reading scanned pages: 40 of 300", while there are any
        self.ocr.hide()
        self.meaning = QLabel()  # "By meaning: 41%", while passages wait for their vectors
        self.meaning.hide()
        bar.addWidget(self.activity, 1)
        bar.addWidget(self.meaning)
        bar.addWidget(self.ocr)
        if link is not None:  # OCR's and the meaning phase's lines follow the progress events
            link.index_progressed.connect(self.show_ocr)
            link.index_progressed.connect(self.show_meaning)
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

    def show_ocr(self, progress: dict[str, Any]) -> None:
        """OCR's own line, from a progress event's `ocr_` fields; hidden when no page waits."""
        done, total = progress.get("ocr_pages_done", 0), progress.get("ocr_pages_total", 0)
        _show_line(self.ocr, done, total, f"Reading scanned pages: {done:,} of {total:,}",
                   progress.get("ocr_rate") and f"{progress['ocr_rate']:.1f} pages/s",
                   progress.get("ocr_eta_seconds"))

    def show_meaning(self, progress: dict[str, Any]) -> None:
        """The meaning phase's line: files are findable by their words before it is done."""
        done, total = progress.get("embedded", 0), progress.get("passages", 0)
        _show_line(self.meaning, done, total, f"By meaning: {done / max(total, 1):.0%}",
                   progress.get("meaning_rate") and f"{progress['meaning_rate']:.0f} passages/s",
                   progress.get("meaning_eta_seconds"))
        self.meaning.setToolTip("Every file is findable by its words already; finding by "
                                "meaning reaches the rest as their passages are embedded.")

    def show_status(self, status: dict[str, Any]) -> None:
        if status.get("device"):
            detail = status.get("note") or status.get("model", "")
            self.show_device(status["device"], status["precision"], detail)
        self.size.setText(f"{status.get('passages', 0):,} passages")
        if isinstance(status.get("meaning"), dict):
            self.show_meaning(status["meaning"])
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


def _show_line(
    label: QLabel, done: int, total: int, head: str, rate: str | None, eta: float | None
) -> None:
    """A progress line ("head · rate · about N min left"), shown only while work waits."""
    waiting = bool(total) and done < total
    label.setVisible(waiting)
    if waiting:
        parts = [head, *([rate] if rate else [])]
        if eta:
            parts.append(f"about {_duration(eta)} left")
        label.setText(" · ".join(parts))


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
