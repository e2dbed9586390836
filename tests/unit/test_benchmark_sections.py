from benchmarks.sections import replace_section


def test_replace_section_rewrites_only_its_own_block():
    page = (
        "# Plan\n\n<!-- figures:a -->\nold a\n<!-- /figures:a -->\n\n"
        "prose\n\n<!-- figures:b -->\nold b\n<!-- /figures:b -->\n"
    )
    updated = replace_section(page, "a", "new a")
    assert "new a" in updated and "old a" not in updated
    assert "old b" in updated and "prose" in updated


def test_replace_section_appends_a_missing_block():
    updated = replace_section("# Plan\n", "c", "figures of c")
    assert updated.endswith("<!-- figures:c -->\nfigures of c\n<!-- /figures:c -->\n")
