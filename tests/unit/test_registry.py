from pathlib import Path

import pytest

from civiclake.errors import ConfigurationError
from civiclake.registry import load_registry


def test_a_registry_lists_datasets_and_searches(tmp_path: Path) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(
        "datagouv:\n"
        "  datasets:\n"
        "    - id: 53698f4ca3a729239d2036df\n"
        "      name: accidents\n"
        "      frequency: annual\n"
        "  searches:\n"
        "    - query: gares\n"
        "      tags: [transport]\n"
    )
    registry = load_registry(path)
    assert registry.datagouv.datasets[0].name == "accidents"
    assert registry.datagouv.searches[0].tags == ["transport"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("datagouv:\n  datasets:\n    - id: x\n      frequncy: annual\n", r"datasets\.0\.frequncy"),
        ("datagouv:\n  datasets:\n    - id: x\n      frequency: sometimes\n", r"datasets\.0\.frequency"),
        ("datagouv:\n  searches:\n    - max_datasets: 3\n", "at least one of query"),
        ("datagouv: [\n", "not valid YAML"),
    ],
)
def test_a_bad_registry_names_the_entry_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "datasets.yaml"
    path.write_text(content)
    with pytest.raises(ConfigurationError, match=message):
        load_registry(path)
