"""What a test needs from the machine that pip cannot guarantee (an optional extra, a browser).

Missing on a developer's machine, the test is reported as skipped with the reason; under
`CI=true`, where `make test` installs everything, a missing requirement is a failure, so a
suite that silently shrank can never pass there.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def ci_message(reason: str) -> str:
    return f"{reason} (CI=true: every extra and the browser must be installed, so this fails instead of skipping)"


def unavailable(reason: str) -> NoReturn:
    """Skip this test with `reason`, or fail it under CI."""
    if IN_CI:
        pytest.fail(ci_message(reason), pytrace=False)
    pytest.skip(reason)
