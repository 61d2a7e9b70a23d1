"""pytest plugin of gmat-sweep-core (entry point ``pytest11``): rewrite the kit's asserts.

pytest rewrites ``assert`` statements only in test modules, conftest files, the modules
of a distribution that provides a ``pytest11`` plugin (this entry point makes
gmat-sweep-core one) and modules registered before they are imported (done here too, for
the kit's two modules, so that they stay covered if the distribution's file list is not
readable). So the backend test kit's own checks (:mod:`gmat_sweep.testing.suites`,
:mod:`gmat_sweep.testing.compare`) report the values that differ (``assert 0 >= 1``)
instead of a bare ``AssertionError`` when the kit is installed from a wheel. The plugin
does nothing else.
"""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("gmat_sweep.testing.suites", "gmat_sweep.testing.compare")
