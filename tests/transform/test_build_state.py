"""The build plan: what a transform builds, compared with the last successful build recorded in the catalog."""

from __future__ import annotations

from pathlib import Path

from civiclake.transform.build_state import BuildState, plan_build, project_checksum


def _state(tmp_path: Path) -> BuildState:
    return BuildState(f"sqlite:///{tmp_path / 'catalog.db'}")


def test_the_first_build_builds_everything(tmp_path: Path) -> None:
    state = _state(tmp_path)
    plan = plan_build(state.last_build("duckdb"), {"olist.orders": 1}, "c1", tmp_path / "missing.json")
    assert plan.selection is None and "no earlier build" in plan.reason


def test_nothing_changed_builds_nothing_and_a_changed_table_selects_its_source(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.record_build("duckdb", "c1", {"olist.orders": 1, "incidents.incident": 7, "olist.empty": None})
    last = state.last_build("duckdb")
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}")
    same = {"olist.orders": 1, "incidents.incident": 7, "olist.empty": None}
    nothing = plan_build(last, same, "c1", manifest, relations_kept_beside_manifest=True)
    assert nothing.builds_nothing and "no bronze table changed since the last successful build" in nothing.reason
    assert nothing.arguments(tmp_path) == []

    changed = plan_build(last, {**same, "incidents.incident": 8, "files.new": 3}, "c1", manifest)
    assert changed.selection == ["source:files.new+", "source:incidents.incident+"]
    assert changed.arguments(tmp_path) == ["--select", "source:files.new+", "source:incidents.incident+"]
    assert "2 bronze tables changed: files.new, incidents.incident" in changed.reason

    assert plan_build(last, same, "c1", manifest, full=True).selection is None


def test_a_changed_project_uses_dbt_state_selection_when_the_last_manifest_is_kept(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.record_build("trino", "c1", {"olist.orders": 1})
    last = state.last_build("trino")
    manifest = tmp_path / "last-build" / "manifest.json"
    without_manifest = plan_build(last, {"olist.orders": 1}, "c2", manifest)
    assert without_manifest.selection is None and "the dbt project changed" in without_manifest.reason
    manifest.parent.mkdir()
    manifest.write_text("{}")
    plan = plan_build(last, {"olist.orders": 1}, "c2", manifest)
    assert plan.arguments(manifest.parent) == ["--select", "state:modified+", "--state", str(manifest.parent)]


def test_the_duckdb_relations_lost_with_their_folder_mean_a_full_build(tmp_path: Path) -> None:
    state = _state(tmp_path)
    state.record_build("duckdb", "c1", {"olist.orders": 1})
    plan = plan_build(
        state.last_build("duckdb"), {"olist.orders": 1}, "c1", tmp_path / "gone" / "manifest.json",
        relations_kept_beside_manifest=True,
    )  # fmt: skip
    assert plan.selection is None and "no record of the last build" in plan.reason


def test_the_project_checksum_ignores_what_runs_leave_in_the_project(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "a.sql").write_text("select 1")
    before = project_checksum(tmp_path)
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "manifest.json").write_text("{}")
    (tmp_path / "warehouse.duckdb").write_text("x")
    assert project_checksum(tmp_path) == before
    (tmp_path / "models" / "a.sql").write_text("select 2")
    assert project_checksum(tmp_path) != before
