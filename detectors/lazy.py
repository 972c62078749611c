"""Deferred imports for heavy optional libraries (OpenCV, NumPy, PyAV).

Every process that loads the detector registry imports every detector module; a warm-cache
rescan, ``deliverscan --version`` or a scan of audio only should not pay ~0.5 s for OpenCV and
NumPy. ``np = lazy("numpy")`` behaves like the module from the first attribute access on.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any


class LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def _load(self) -> ModuleType:
        if self._module is None:
            if self._name == "cv2":
                # OpenCV (and the FFmpeg inside it) prints chatter about every odd file to
                # stderr unless told otherwise before it loads; reports are our channel
                os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
                os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
            self._module = importlib.import_module(self._name)
        return self._module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy(name: str) -> Any:
    return LazyModule(name)
