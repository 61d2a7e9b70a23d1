"""GMAT's ``load_gmat.py`` template, as shipped in a GMAT install's ``api/`` folder.

``import load_gmat`` from this folder puts ``../bin`` on ``sys.path``, imports
``gmatpy as gmat`` and starts the engine from ``bin/api_startup_file.txt``.
"""

import os
import sys

_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bin")
_STARTUP = os.path.join(_BIN, "api_startup_file.txt")

if not os.path.isfile(_STARTUP):
    raise FileNotFoundError(
        f"{_STARTUP} does not exist; run BuildApiStartupFile.py in this folder first"
    )
sys.path.insert(1, _BIN)

import gmatpy as gmat  # noqa: E402

gmat.Setup(_STARTUP)
