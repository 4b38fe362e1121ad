"""`dowse doctor`: what this install would run with, and what stands in the way of running it.

The exit status is 0 when no problem was found and 1 otherwise, so scripts and installers can
check an install with `dowse doctor >/dev/null`.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import json
import os
import platform
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from engine import __version__
from engine.config import CONFIG_FILE_NAME, Config, ConfigError, load_config
from engine.logs import log_dir
from engine.serve.runtime import engine_running

# Below this many inotify watches a big home folder runs out and is polled instead of watched
# live (the kernel default was 8192 before 5.11; newer kernels scale it with memory).
MIN_INOTIFY_WATCHES = 65536
# Distributions to report, by the name the user knows them under; the first installed wins.
# PySide6 is read from its metadata only: the engine never imports Qt.
PACKAGES: dict[str, tuple[str, ...]] = {
    "torch": ("torch",),
    "transformers": ("transformers",),
    "PySide6": ("PySide6", "PySide6-Essentials"),
    "hnswlib": ("hnswlib",),
}
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class DoctorReport:
    dowse: str
    python: str
    executable: str
    packages: dict[str, str | None]  # None: not installed
    data_dir: str
    config_file: str | None  # None: no file, the defaults apply
    device: str | None  # None: torch could not say
    precision: str | None
    hardware: str
    model_dir: str | None  # None: the configured model folder is missing
    watch_backend: str  # "inotify" or "polling", or the platform's own observer
    watch_observer: str  # watchdog's observer class for live watching
    inotify_max_user_watches: int | None  # None: not Linux
    log_dir: str
    engine_running: bool
    database: str  # ok | none yet | damaged | unreadable (PRAGMA quick_check)
    ocr: str  # the OCR engine and languages, or why images and scanned pages are not read
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for label, names in PACKAGES.items():
        versions[label] = None
        for name in names:
            try:
                versions[label] = importlib.metadata.version(name)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
    return versions


def read_proc_int(proc_dir: Path, relative: str) -> int | None:
    try:
        return int((proc_dir / relative).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def writable_problem(path: Path, what: str) -> str | None:
    """Why `path` (a folder, perhaps not created yet) could not be written, or None."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return f"{what} {path}: no part of that path exists"
        probe = probe.parent
    if not probe.is_dir():
        return f"{what} {path}: {probe} is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{what} {path}: {probe} is not writable by this user"
    return None


def _placement(config: Config, problems: list[str]) -> tuple[str | None, str | None, str]:
    # Device choice imports torch but loads no model: a second or two, not the model's ten.
    from engine.embed.device import DeviceUnavailableError, choose_placement

    try:
        placement = choose_placement(config.embed.device, config.embed.precision)
    except DeviceUnavailableError as exc:
        problems.append(str(exc))
        return None, None, ""
    except ImportError as exc:
        problems.append(f"torch cannot be imported: {exc}")
        return None, None, ""
    return placement.device, placement.precision, placement.hardware


def _model_dir(config: Config, problems: list[str]) -> str | None:
    from engine.embed.model_dir import ModelNotFoundError, resolve_model_dir

    try:
        path = resolve_model_dir(config.embed.model_path)
    except ModelNotFoundError as exc:
        problems.append(f"model: {exc}")
        return None
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        problems.append(f"model: no weights in {path} (expected one of {', '.join(_WEIGHT_FILES)})")
    return str(path)


def _watch_backend(proc_dir: Path, problems: list[str]) -> tuple[str, str, int | None]:
    from watchdog.observers import Observer

    observer = str(getattr(Observer, "__name__", Observer))  # a class; typed as an alias
    backend = observer.removesuffix("Observer").lower() or observer
    watches = read_proc_int(proc_dir, "sys/fs/inotify/max_user_watches")
    if backend == "inotify" and watches is not None and watches < MIN_INOTIFY_WATCHES:
        problems.append(
            f"fs.inotify.max_user_watches is {watches}: large folders will be polled instead "
            f"of watched live. Raise it, e.g. `echo fs.inotify.max_user_watches=524288 | sudo "
            f"tee /etc/sysctl.d/90-dowse.conf && sudo sysctl --system`"
        )
    return backend, observer, watches


def _database(data_dir: Path, problems: list[str]) -> str:
    """quick_check on the index database: it reads the whole file, seconds on a big index."""
    from engine.cli.faults import REPAIR_HINT
    from engine.store.database import DB_FILE_NAME
    from engine.store.integrity import check_file

    path = data_dir / DB_FILE_NAME
    if not path.exists():
        return "none yet"
    try:
        damage = check_file(path)
    except sqlite3.Error as exc:
        problems.append(f"the index database {path} cannot be read: {exc}")
        return "unreadable"
    if damage is None:
        return "ok"
    problems.append(f"the index database {path} is damaged ({damage}). {REPAIR_HINT}")
    return "damaged"


def _ocr(config: Config) -> str:
    """Not a problem when off: Dowse runs without OCR, it only leaves pictures of pages unread."""
    from engine.extract.ocr import tesseract_version, unavailable_reason, usable_languages

    reason = unavailable_reason(config.ocr)
    if reason is not None:
        return f"off: {reason}"
    missing = [lang for lang in config.ocr.languages if lang not in usable_languages(config.ocr)]
    note = f" (no data for {', '.join(missing)}: left out)" if missing else ""
    return f"{tesseract_version()}, languages {'+'.join(usable_languages(config.ocr))}{note}"


def diagnose(data_dir: Path, proc_dir: Path = Path("/proc")) -> DoctorReport:
    """Check this install for `data_dir`; reads files but starts nothing and writes nothing."""
    problems: list[str] = []
    packages = package_versions()
    for label, found in packages.items():
        if found is None:
            needed = "`dowse gui`" if label == "PySide6" else "the engine"
            problems.append(f"{label} is not installed; {needed} needs it")
    config_path = data_dir / CONFIG_FILE_NAME
    try:
        config = load_config(data_dir)
    except ConfigError as exc:
        problems.append(f"configuration: {exc} (the defaults are shown)")
        config = Config()
    data_problem = writable_problem(data_dir, "data dir")
    problems.extend([data_problem] if data_problem else [])
    device, precision, hardware = _placement(config, problems)
    model_dir = _model_dir(config, problems)
    backend, observer, watches = _watch_backend(proc_dir, problems)
    logs = log_dir()
    log_problem = writable_problem(logs, "log folder")
    problems.extend([log_problem] if log_problem else [])
    database = _database(data_dir, problems)
    return DoctorReport(
        ocr=_ocr(config),
        dowse=__version__,
        python=platform.python_version(),
        executable=sys.executable,
        packages=packages,
        data_dir=str(data_dir),
        config_file=str(config_path) if config_path.exists() else None,
        device=device,
        precision=precision,
        hardware=hardware,
        model_dir=model_dir,
        watch_backend=backend,
        watch_observer=observer,
        inotify_max_user_watches=watches,
        log_dir=str(logs),
        engine_running=engine_running(data_dir),
        database=database,
        problems=tuple(problems),
    )


def report_dict(report: DoctorReport) -> dict[str, Any]:
    return {**dataclasses.asdict(report), "problems": list(report.problems), "ok": report.ok}


def write_report(report: DoctorReport, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(report_dict(report), indent=2) + "\n")
        return
    placement = f"{report.device.upper()} {report.precision}" if report.device else "unknown"
    if report.hardware:
        placement += f" ({report.hardware})"
    watch = f"{report.watch_backend} (watchdog {report.watch_observer})"
    if report.inotify_max_user_watches is not None:
        watch += f", max_user_watches {report.inotify_max_user_watches}"
    rows = [
        ("python", f"{report.python} ({report.executable})"),
        *((name, version or "not installed") for name, version in report.packages.items()),
        ("data dir", report.data_dir),
        ("config", report.config_file or "none (defaults)"),
        ("device", placement),
        ("model", report.model_dir or "missing"),
        ("watching", watch),
        ("logs", report.log_dir),
        ("engine", "running" if report.engine_running else "not running"),
        ("index", report.database),
        ("ocr", report.ocr),
    ]
    out.write(f"dowse {report.dowse}\n")
    for label, value in rows:
        out.write(f"  {label:<13} {value}\n")
    if report.ok:
        out.write("No problems found.\n")
        return
    out.write(f"{len(report.problems)} problem(s):\n")
    for problem in report.problems:
        out.write(f"  - {problem}\n")
