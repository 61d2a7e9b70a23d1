"""GMAT's ``load_gmat.py``: ``import load_gmat`` from this folder starts the engine.

Puts ``../bin`` on ``sys.path``, imports ``gmatpy as gmat`` and calls
``gmat.Setup`` on ``bin/api_startup_file.txt`` (written by
``BuildApiStartupFile.py`` in this folder). Afterwards ``load_gmat.gmat`` is
the engine module.
"""

import os
import sys

_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin")
_STARTUP = os.path.join(_BIN, "api_startup_file.txt")

if not os.path.isfile(_STARTUP):
    raise FileNotFoundError(
        f"{_STARTUP} does not exist; run BuildApiStartupFile.py in this folder first"
    )
if _BIN not in sys.path:
    sys.path.insert(1, _BIN)

import gmatpy as gmat  # noqa: E402

gmat.Setup(_STARTUP)
