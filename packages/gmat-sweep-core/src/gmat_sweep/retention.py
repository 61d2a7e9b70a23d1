"""Retention: what of each run's outputs a sweep keeps.

Chosen once per sweep, recorded in the manifest header (``settings.retention``) so that
resume and extend keep the same, and applied on the worker right after gmat-run parsed a
run's outputs (in the GMAT host, before they travel back), so every backend keeps exactly
the same rows and only what is kept crosses the network. Three steps, in this order:

1. ``postprocess``: a function run on the worker that maps the run's outputs to what to
   keep. It is called with one argument, a dict of output name (``"OrbitReport"``) to
   the DataFrame gmat-run parsed, and returns one of

   - a mapping of column name to scalar: one summary row (``{"min_alt": 312.5}``);
   - a DataFrame: a summary table;
   - a mapping of output name to DataFrame: those outputs instead of the run's (a name
     of one of the run's outputs keeps its kind; any other name is a summary).

   A summary is stored as the output ``summary__<name>``, ``<name>`` being the function's
   (or, for a mapping of tables, the key's). Name it as ``"package.module:function"``, as
   an importable function object, or by a name registered by a plugin (the
   ``gmat_sweep_register_retention`` hook; core registers ``"extremes"``). It must be
   importable on the workers. An exception in it fails that run, with its traceback.
2. ``keep``: the channels (columns) to keep, e.g. ``["Sat.SMA", "Sat.ECC"]``. Each output
   keeps its time column and those of its columns that are listed; an output with none of
   them is not kept. A typo must not silently keep nothing: a channel no ReportFile of the
   script adds is refused before the sweep starts (:func:`check_keep_against_script`),
   and where the script cannot tell, a channel that no output of a run has fails the run.
3. ``rows``: ``"all"`` (default), ``"first"``, ``"last"`` or ``"every:N"`` (rows 0, N,
   2N... of each run).
"""

from __future__ import annotations

import importlib
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gmat_sweep.errors import RetentionError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PostprocessError",
    "Retention",
    "apply_retention",
    "check_keep_against_script",
    "extremes",
    "make_retention",
]

_ROWS = re.compile(r"^(all|first|last|every:([1-9][0-9]*))$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_NAME = re.compile(r"^[A-Za-z_][\w.-]*$")


class PostprocessError(Exception):
    """A sweep's postprocess function could not be imported, raised, or returned
    something that is not a table; the message carries the traceback."""


@dataclass(frozen=True)
class Retention:
    """A sweep's retention, as recorded in its manifest (see the module docstring).

    Attributes:
        keep: Channels to keep; empty keeps every column.
        rows: ``"all"``, ``"first"``, ``"last"`` or ``"every:N"``.
        postprocess: The function as the user named it (``"pkg.mod:func"`` or a
            registered name); empty for none.
        target: The ``"module:function"`` that runs on the worker.
    """

    keep: tuple[str, ...] = ()
    rows: str = "all"
    postprocess: str = ""
    target: str = ""

    @property
    def keeps_everything(self) -> bool:
        return not self.keep and self.rows == "all" and not self.target

    def to_json(self) -> dict[str, Any]:
        return {
            "keep": list(self.keep),
            "rows": self.rows,
            "postprocess": self.postprocess or None,
            "target": self.target or None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Retention:
        """The retention a manifest recorded (absent: keep everything)."""
        if not data:
            return cls()
        return cls(
            keep=tuple(data.get("keep") or ()),
            rows=str(data.get("rows") or "all"),
            postprocess=str(data.get("postprocess") or ""),
            target=str(data.get("target") or ""),
        )


def make_retention(
    keep: Sequence[str] | str | None = None,
    rows: str = "all",
    postprocess: str | Callable[..., Any] | None = None,
    *,
    check_import: bool = True,
) -> Retention:
    """Check a sweep's retention choices and resolve ``postprocess`` to what workers run.

    With ``check_import``, a ``"module:function"`` is imported here, so that a typo fails
    before any run rather than on every run.

    Raises:
        RetentionError: a malformed ``keep`` or ``rows``; a ``postprocess`` that is not
            importable, not callable, defined in ``__main__`` or inside a function, or
            an unknown registered name.
    """
    return Retention(
        keep=_check_keep(keep),
        rows=_check_rows(rows),
        **_resolve_postprocess(postprocess, check_import=check_import),
    )


def _check_keep(keep: Sequence[str] | str | None) -> tuple[str, ...]:
    if keep is None:
        return ()
    channels = (keep,) if isinstance(keep, str) else tuple(keep)
    bad = [c for c in channels if not isinstance(c, str) or not c.strip()]
    if bad or not channels:
        raise RetentionError(
            f"keep= takes channel names as they appear in the report, e.g. "
            f"keep=['Sat.SMA', 'Sat.ECC'] (CLI: --keep Sat.SMA --keep Sat.ECC); got {keep!r}"
        )
    return tuple(dict.fromkeys(c.strip() for c in channels))


def _check_rows(rows: str) -> str:
    text = rows.strip().lower() if isinstance(rows, str) else ""
    if not _ROWS.match(text):
        raise RetentionError(
            f"rows= must be 'all', 'first', 'last' or 'every:N' with N >= 1 (every Nth row "
            f"of each run, from the first); got {rows!r}"
        )
    return text


def _resolve_postprocess(
    postprocess: str | Callable[..., Any] | None, *, check_import: bool
) -> dict[str, str]:
    if postprocess is None or postprocess == "":
        return {}
    if callable(postprocess) and not isinstance(postprocess, str):
        module = getattr(postprocess, "__module__", None) or ""
        qualname = getattr(postprocess, "__qualname__", None) or ""
        if module == "__main__" or "<" in qualname or not module or not qualname:
            raise RetentionError(
                f"postprocess={postprocess!r} cannot be imported by the workers: it is "
                "defined in the main script, in a function or as a lambda. Move it to a "
                "module the workers can import (e.g. mymission/post.py) and pass it, or "
                "'mymission.post:function'."
            )
        target = f"{module}:{qualname}"
        return {"postprocess": target, "target": target}
    if not isinstance(postprocess, str):
        raise RetentionError(
            "postprocess= takes a function, 'package.module:function' or a registered "
            f"name, not {type(postprocess).__name__}"
        )
    text = postprocess.strip()
    if ":" in text:
        if not _TARGET.match(text):
            raise RetentionError(f"postprocess={postprocess!r} is not 'package.module:function'")
        if check_import:
            try:
                load_function(text)
            except PostprocessError as exc:
                raise RetentionError(str(exc)) from None
        return {"postprocess": text, "target": text}
    if not _NAME.match(text):
        raise RetentionError(
            f"postprocess={postprocess!r} is neither 'package.module:function' nor a name"
        )
    from gmat_sweep.registry import get_registry

    return {"postprocess": text, "target": get_registry().lookup_retention(text).target}


_ADD = re.compile(r"^\s*GMAT\s+[\w.]+\.Add\s*=\s*\{([^}]*)\}", re.MULTILINE)
#: What makes outputs whose columns the script's Add lists do not spell out: the other
#: output resources and solver commands, and the Report command (it writes its own
#: parameters into a ReportFile). With any of them, keep= is checked only on the workers.
_OTHER_OUTPUTS = re.compile(
    r"\b(EphemerisFile|ContactLocator|Target|Optimize)\b|^\s*Report\s", re.MULTILINE
)


def check_keep_against_script(retention: Retention, script_text: str) -> None:
    """Refuse, before any run, ``keep`` channels that no ReportFile of the script adds.

    Checked only when the script's outputs are all ReportFiles whose ``Add`` lists can be
    read, and there is no postprocess function (``keep`` then applies to what it returns);
    otherwise each run checks (and a channel no output has fails the run).

    Raises:
        RetentionError: a channel is in no ReportFile's ``Add`` list.
    """
    if not retention.keep or retention.target:
        return
    code = "\n".join(line.split("%", 1)[0] for line in script_text.splitlines())
    lists = _ADD.findall(code)
    if not lists or _OTHER_OUTPUTS.search(code):
        return
    channels = [c.strip() for added in lists for c in added.split(",") if c.strip()]
    missing = [c for c in retention.keep if c not in channels]
    if missing:
        raise RetentionError(
            f"keep= names {', '.join(map(repr, missing))}, which no ReportFile of the script "
            f"adds. Its reports' channels: {', '.join(dict.fromkeys(channels))}. Nothing was run."
        )


_loaded: dict[str, Callable[..., Any]] = {}


def load_function(target: str) -> Callable[..., Any]:
    """Import ``"module:function"`` (cached per process).

    Raises:
        PostprocessError: the import failed or the attribute is not callable.
    """
    function = _loaded.get(target)
    if function is not None:
        return function
    module_name, _, qualname = target.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except Exception as exc:
        raise PostprocessError(
            f"cannot import the postprocess function {target!r} here: "
            f"{type(exc).__name__}: {exc}. It must be importable wherever runs execute: "
            "install its package on the workers or put it on their PYTHONPATH."
        ) from exc
    if not callable(found):
        raise PostprocessError(f"postprocess {target!r} is a {type(found).__name__}, not callable")
    _loaded[target] = found
    return found  # type: ignore[no-any-return]


def apply_retention(
    retention: Mapping[str, Any] | Retention, outputs: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """What a run keeps of ``outputs`` (keys ``<kind>__<Name>``, as gmat-run parsed them).

    Raises:
        PostprocessError: the postprocess function failed (the message has its traceback).
        RetentionError: a ``keep`` channel is in none of the run's outputs.
    """
    rules = retention if isinstance(retention, Retention) else Retention.from_json(retention)
    if rules.keeps_everything:
        return outputs
    if rules.target:
        outputs = _postprocess(rules, outputs)
    if rules.keep:
        outputs = _keep_channels(rules.keep, outputs)
    if rules.rows != "all":
        outputs = {key: _rows(rules.rows, frame) for key, frame in outputs.items()}
    return outputs


def _postprocess(rules: Retention, outputs: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    import pandas as pd

    function = load_function(rules.target)
    by_name = {key.partition("__")[2]: key for key in outputs}
    try:
        result = function({name: outputs[key] for name, key in by_name.items()})
    except Exception:
        raise PostprocessError(
            f"postprocess {rules.postprocess!r} raised:\n{traceback.format_exc()}"
        ) from None
    own = rules.target.rpartition(":")[2].rpartition(".")[2]
    if isinstance(result, pd.DataFrame):
        return {f"summary__{own}": result}
    if (
        isinstance(result, Mapping)
        and result
        and all(isinstance(v, pd.DataFrame) for v in result.values())
    ):
        return {by_name.get(str(name), f"summary__{name}"): v for name, v in result.items()}
    if isinstance(result, Mapping) and all(_is_scalar(v) for v in result.values()):
        return {f"summary__{own}": pd.DataFrame([dict(result)])}
    raise PostprocessError(
        f"postprocess {rules.postprocess!r} returned {type(result).__name__}; it must return "
        "a mapping of column to scalar (one summary row), a DataFrame, or a mapping of "
        "output name to DataFrame"
    )


def _is_scalar(value: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_scalar(value))  # None included


def _keep_channels(
    keep: tuple[str, ...], outputs: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    from gmat_sweep.outputs import time_column

    kept: dict[str, pd.DataFrame] = {}
    found: set[str] = set()
    for key, frame in outputs.items():
        channels = [c for c in frame.columns if c in keep]
        if not channels:
            continue
        found.update(channels)
        when = time_column(frame)
        columns = ([when] if when is not None and when not in channels else []) + channels
        selected = frame[[c for c in frame.columns if c in columns]]
        selected.attrs = dict(frame.attrs)
        kept[key] = selected
    missing = [c for c in keep if c not in found]
    if missing:
        have = "; ".join(
            f"{key.replace('__', ' ', 1)}: {', '.join(map(str, frame.columns))}"
            for key, frame in outputs.items()
        )
        raise RetentionError(
            f"keep= names {', '.join(map(repr, missing))}, which no output of this run has. "
            f"Its outputs' channels: {have or '(no outputs)'}. Fix keep= and start the sweep "
            "again (with overwrite=True)."
        )
    return kept


def _rows(rows: str, frame: pd.DataFrame) -> pd.DataFrame:
    if rows == "first":
        selected: pd.DataFrame = frame.iloc[:1]
    elif rows == "last":
        selected = frame.iloc[-1:]
    else:
        selected = frame.iloc[:: int(rows.partition(":")[2])]
    selected.attrs = dict(frame.attrs)
    return selected


def extremes(outputs: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """One summary row: the minimum, maximum and final value of each numeric report
    channel (``"Sat.Altitude.min"``...; with several outputs, prefixed by the output's
    name). Registered in core as ``postprocess="extremes"``."""
    import pandas as pd

    row: dict[str, Any] = {}
    prefix = len(outputs) > 1
    for name, frame in outputs.items():
        for column in frame.columns:
            values = frame[column]
            if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                continue
            label = f"{name}.{column}" if prefix else str(column)
            row[f"{label}.min"] = float(values.min()) if len(values) else None
            row[f"{label}.max"] = float(values.max()) if len(values) else None
            row[f"{label}.final"] = float(values.iloc[-1]) if len(values) else None
    return row
