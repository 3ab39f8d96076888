"""Hypothesis profiles for the property tests (docs/testing.md, "Properties").

``ci`` (the default) is derandomized: the suite runs the same examples every time, so a
failure in CI reproduces on any machine. ``dev`` draws new examples on each run;
``explore`` draws many more (minutes): ``HYPOTHESIS_PROFILE=explore pytest tests/properties``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": 2_000,  # ms per example: a loaded 2-core machine, not a slow property
    "database": None,  # nothing written into the repository
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=60, derandomize=True, **_COMMON)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("explore", max_examples=2_000, **{**_COMMON, "deadline": None})
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
