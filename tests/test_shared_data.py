"""The real data sets: skipped when absent locally, a failure when absent under CI=true."""

from __future__ import annotations

import pytest

from conftest import shared_data


def test_missing_shared_data_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="real-data test skipped"):
        shared_data("no-such-data-set", "leads.csv")


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_missing_shared_data_fails_under_ci(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="under CI=true"):
        shared_data("no-such-data-set", "leads.csv")


def test_present_shared_data_is_returned():
    path = shared_data()  # fails under CI=true when absent, like every real-data test
    assert path.is_dir() and path.name == "data"
