"""The images say what they can run: `civiclake demo` ends with dbt, so only an image with dbt and the project runs it.

`civiclake demo` syncs four sources, then builds silver and gold with dbt (`civiclake transform`), which needs dbt
(civiclake's `transform` extra) and the dbt project (found through CIVICLAKE__TRANSFORM__PROJECT_DIR in an image).
"""

from __future__ import annotations

import re

import pytest

from .conftest import REPO

IMAGES = REPO / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))


def _description(dockerfile: str) -> str:
    """The Dockerfile's opening comment line that says what the image is (after the syntax directive)."""
    comments = [line for line in dockerfile.splitlines() if line.startswith("# ") and "syntax=" not in line]
    return comments[0]


def _runs_the_demo(dockerfile: str) -> bool:
    has_dbt = re.search(r'pip install "?\.\[[^\]]*transform', dockerfile) is not None
    has_project = re.search(r"^COPY dbt ", dockerfile, flags=re.MULTILINE) is not None
    finds_project = "CIVICLAKE__TRANSFORM__PROJECT_DIR=" in dockerfile
    return has_dbt and has_project and finds_project


@pytest.mark.parametrize("path", DOCKERFILES, ids=[p.parent.name for p in DOCKERFILES])
def test_an_image_claims_the_demo_only_if_it_can_run_it(path) -> None:  # type: ignore[no-untyped-def]
    text = path.read_text()
    if re.search(r"\bdemo\b", _description(text)):
        assert _runs_the_demo(text), f"{path.parent.name} claims `demo` but lacks dbt or the dbt project"


def test_the_images_readme_sends_the_demo_to_an_image_that_runs_it() -> None:
    readme = (IMAGES / "README.md").read_text()
    runners = {p.parent.name for p in DOCKERFILES if _runs_the_demo(p.read_text())}
    assert runners == {"dbt"}
    (sentence,) = [paragraph for paragraph in readme.split("\n\n") if "`civiclake demo`" in paragraph]
    named = set(re.findall(r"ghcr\.io/civiclake/(\w+):", sentence))
    assert named and named <= runners, f"the README runs the demo in {named}"
    assert "ingest" in sentence, "the README says the ingest image does not run the demo"
