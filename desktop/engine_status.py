"""The status bar's account of the engine: its activity, its device, the index size."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QStatusBar

LOADING = "Loading the model… (exact-word search works now)"


class EngineStatusLine:
    """Three labels in a status bar, fed by the engine's status reports and events."""

    def __init__(self, bar: QStatusBar) -> None:
        self.activity = QLabel("Starting the engine…")
        self.device = QLabel()
        self.size = QLabel()
        bar.addWidget(self.activity, 1)
        bar.addPermanentWidget(self.size)
        bar.addPermanentWidget(self.device)

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
        activity = status.get("engine", {}).get("activity", "")
        if activity == "loading model":
            self.say(LOADING)
        elif status.get("queue"):
            self.show_progress(status["queue"], status.get("rate", 0.0), status.get("eta_seconds"))
        elif activity == "paused":
            self.say("Indexing paused")
        elif activity in ("idle", "indexing", "scanning"):
            self.say("Up to date" if activity == "idle" else "Looking for changes…")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
