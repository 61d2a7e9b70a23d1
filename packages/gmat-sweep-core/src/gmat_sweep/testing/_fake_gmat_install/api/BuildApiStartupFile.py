"""Write ``bin/api_startup_file.txt`` from ``bin/gmat_startup_file.txt``.

GMAT's own script does the same: it copies the GUI startup file and points the
relative data and output paths at absolute paths inside this install.
"""

import os

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BIN = os.path.join(_ROOT, "bin")


def main() -> None:
    with open(os.path.join(_BIN, "gmat_startup_file.txt"), encoding="utf-8") as source:
        text = source.read()
    text = text.replace("ROOT_PATH                = ../", f"ROOT_PATH                = {_ROOT}/")
    with open(os.path.join(_BIN, "api_startup_file.txt"), "w", encoding="utf-8") as target:
        target.write(text)


if __name__ == "__main__":
    main()
