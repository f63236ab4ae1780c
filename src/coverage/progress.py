"""Progress bars for the steps that can take more than a few seconds.

Off unless the command line switches them on (a library call or a notebook prints nothing), and
only drawn on a terminal: piped or logged output gets no bar characters. The bars come from
tqdm when it is installed; without it the steps simply run.
"""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")
#: Bar labels -> their message id (the label is shown in the language of the run in progress).
_LABELS = {"walk times": "progress.walk_times", "isochrones": "progress.isochrones"}

_enabled = False


def enable(on: bool = True) -> None:
    """Switch the progress bars on (the command line does, unless ``-q``/``-v``)."""
    global _enabled
    _enabled = bool(on)


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it") -> Iterable[T]:
    """``iterable``, drawn as a progress bar on stderr when enabled and stderr is a terminal.
    The bar appears only once the step has run for a second, and disappears when done."""
    if not _enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    from .messages import RUN_LANGUAGE, text

    label = text(_LABELS[desc], RUN_LANGUAGE.get()) if desc in _LABELS else desc
    return tqdm(iterable, total=total, desc=label, unit=unit, delay=1.0, leave=False, file=sys.stderr,
                dynamic_ncols=True)
