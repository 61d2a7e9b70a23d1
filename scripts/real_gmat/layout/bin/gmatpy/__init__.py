"""GMAT R2026a's Python API (``gmatpy``) for this GMAT install.

What a NASA install's ``bin/gmatpy`` is: the SWIG module ``gmat_py`` of GMAT's
C++ core, re-exported at package level (``gmatpy.LoadScript``,
``gmatpy.GetObject``, ``gmatpy.Moderator``...). Here the native module is the
one built from PyPI's ``gmatpy`` 0.2.0 source distribution by gmat-sweep's
``scripts/build_real_gmat.sh``; it lives in ``_native/`` beside this file, its
shared libraries (incl. CSPICE) in ``../gmatpy.libs``.

``Setup`` first does what gmatpy's own runtime does before starting the
engine: it tells GMAT's FileManager which folder holds the startup file (so
GMAT does not look for a GMAT executable) and stops the log being echoed to
standard output.
"""

from __future__ import annotations

import os
import sys

_BUILT_FOR = "@CACHE_TAG@"  # filled in when the install is written

if sys.implementation.cache_tag != _BUILT_FOR:
    raise ImportError(
        f"this GMAT install's gmatpy was built for {_BUILT_FOR}, not for "
        f"{sys.implementation.cache_tag} ({sys.executable}); rebuild it with "
        "scripts/build_real_gmat.sh using this Python"
    )

from ._native import gmat_py as _gmat_py  # noqa: E402
from ._native.gmat_py import *  # noqa: E402, F403

__version__ = "R2026a"


def Setup(startup_file: str = "api_startup_file.txt") -> None:
    """Start GMAT from ``startup_file`` (normally ``bin/api_startup_file.txt``).

    Raises:
        FileNotFoundError: the startup file does not exist.
        RuntimeError: GMAT did not initialise (the reason is in the GMAT log
            named by the startup file's ``LOG_FILE``).
    """
    path = os.path.abspath(os.fspath(startup_file))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"GMAT startup file {path} does not exist")
    _gmat_py.FileManager.Instance().SetBinDirectory(
        os.path.basename(path), os.path.dirname(path) + os.sep
    )
    _gmat_py.EchoLogFile(False)
    _gmat_py.Setup(path)
    if not _gmat_py.Moderator.Instance().IsInitialized():
        raise RuntimeError(f"GMAT did not initialise from {path}; see {_log_file(path)}")


def _log_file(startup_file: str) -> str:
    """The LOG_FILE a startup file names (GMAT writes why it failed there)."""
    try:
        with open(startup_file, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "LOG_FILE":
                    return value.strip()
    except OSError:
        pass
    return "the GMAT log named by its LOG_FILE"
