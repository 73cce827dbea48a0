from __future__ import annotations

import os

import pytest

# Tests never read a developer's own settings file.
os.environ.pop("LOGJET_CONFIG", None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
