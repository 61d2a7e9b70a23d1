"""Write ``bin/api_startup_file.txt`` from ``bin/gmat_startup_file.txt``.

Like GMAT's own script of this name: the Python API reads the startup file
from wherever the caller's process runs, so every path in it is made absolute.
A value starting with ``../`` is taken relative to ``bin/``; one starting with
``NAME/`` where NAME is a path defined earlier in the file is expanded. Run it
again after moving the install.
"""

from __future__ import annotations

import os
import sys

_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin")


def resolve(lines: list[str], bin_dir: str) -> list[str]:
    """Return the startup file's lines with every path value made absolute."""
    known: dict[str, str] = {}
    out: list[str] = []
    for raw in lines:
        line = raw.rstrip("\n")
        if not line.strip() or line.lstrip().startswith("#") or "=" not in line:
            out.append(line)
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        head, sep, rest = value.partition("/")
        if sep and head in known:
            value = known[head].rstrip("/") + "/" + rest
        elif value.startswith("../") or value.startswith("./") or value in ("..", "."):
            trailing = "/" if value.endswith("/") else ""
            value = os.path.normpath(os.path.join(bin_dir, value)) + trailing
        if key.endswith("_PATH"):
            known[key] = value
        out.append(f"{key:<27} = {value}")
    return out


def main() -> int:
    source = os.path.join(_BIN, "gmat_startup_file.txt")
    target = os.path.join(_BIN, "api_startup_file.txt")
    with open(source, encoding="utf-8") as handle:
        lines = handle.readlines()
    text = "\n".join(resolve(lines, _BIN)) + "\n"
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, target)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
