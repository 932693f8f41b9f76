"""matplotlib, loaded only when a plot is drawn, on a backend that needs no display."""

from __future__ import annotations

from typing import Any


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise PlotUnavailable("plots need matplotlib (pip install 'rawkit[plot]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def save(figure: Any, path: str) -> None:
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot().close(figure)
