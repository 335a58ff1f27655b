"""A service configured with an invalid risk policy refuses to start (D3): the error names
the exact location, and nothing is created -- no database, no keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from sealwright.config import Settings
from sealwright.errors import ConfigurationError
from sealwright.risk import default_policy
from sealwright.services.runtime import Runtime


def test_an_invalid_policy_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: 1\ntiers:\n  - range: [0, 20]\n    require: {all_of: [carrier-pigeon]}\n"
    )
    data = tmp_path / "data"
    settings = Settings(data_dir=data, mail_mode="capture", risk_policy_file=str(bad))
    with pytest.raises(ConfigurationError) as raised:
        Runtime.build(settings)
    assert f"{bad}:" in str(raised.value)
    assert not data.exists()


def test_the_default_policy_is_loaded_when_none_is_configured(tmp_path: Path) -> None:
    rt = Runtime.build(Settings(data_dir=tmp_path / "data", mail_mode="capture"))
    try:
        assert rt.risk_policy.hash == default_policy().hash
    finally:
        rt.close()
