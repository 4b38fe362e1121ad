"""A PCA projection of chunk vectors to fewer dimensions, so the in-memory graph holds less."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

FORMAT = 1  # of to_text(); a text of another format is refitted, never misread


@dataclass(frozen=True)
class Projection:
    """The top principal directions of the stored vectors' second moment (not centred).

    Without centring, a projected query's inner product with a projected passage is the best
    rank-`reduced` approximation of their full inner product, so hnswlib's "ip" space ranks
    in the reduced space as the full vectors would, up to the dropped directions; the
    candidates are rescored exactly from the stored vectors (engine/vectors/compact.py).
    """

    components: Vectors  # (full dimension, reduced dimension), orthonormal columns
    fitted_on: int  # how many passages the index held when this was fitted

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    @property
    def reduced(self) -> int:
        return int(self.components.shape[1])

    def apply(self, vectors: npt.ArrayLike) -> Vectors:
        data = np.asarray(vectors, dtype=np.float32)
        if data.ndim == 1:
            data = data[None, :]
        return np.ascontiguousarray(data @ self.components, dtype=np.float32)

    def to_text(self) -> str:
        """The projection as one line of JSON, for the meta table."""
        raw = np.ascontiguousarray(self.components, dtype="<f4").tobytes()
        return json.dumps({
            "format": FORMAT,
            "dim": self.dim,
            "reduced": self.reduced,
            "fitted_on": self.fitted_on,
            "components": base64.b64encode(raw).decode("ascii"),
        })

    @classmethod
    def from_text(cls, text: str, dim: int) -> Projection | None:
        """The projection stored by to_text(), or None when it is unreadable or for another
        dimension (then it is fitted again)."""
        try:
            fields = json.loads(text)
            if fields["format"] != FORMAT or fields["dim"] != dim:
                return None
            raw = base64.b64decode(fields["components"], validate=True)
            components = np.frombuffer(raw, dtype="<f4").reshape(dim, int(fields["reduced"]))
            fitted_on = int(fields["fitted_on"])
        except (ValueError, KeyError, TypeError):
            return None
        if not np.isfinite(components).all() or not 0 < components.shape[1] < dim:
            return None
        return cls(components.astype(np.float32), fitted_on)


def fit_projection(sample: npt.ArrayLike, reduced: int, fitted_on: int) -> Projection:
    """PCA (uncentred) of `sample`, one vector a row, keeping `reduced` directions."""
    data = np.asarray(sample, dtype=np.float64)
    if data.ndim != 2 or not 0 < reduced < data.shape[1]:
        raise ValueError(f"cannot keep {reduced} of the {data.shape} sample's dimensions")
    moment = data.T @ data / max(len(data), 1)
    values, vectors = np.linalg.eigh(moment)  # ascending
    top = vectors[:, np.argsort(values)[::-1][:reduced]]
    # A fixed sign per direction, so refitting the same sample gives the same projection.
    top *= np.where(top[np.abs(top).argmax(axis=0), np.arange(reduced)] < 0, -1.0, 1.0)
    return Projection(np.ascontiguousarray(top, dtype=np.float32), fitted_on)
