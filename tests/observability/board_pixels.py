"""Reading a board picture back: the fill colour of each row of a table panel, from the PNG's pixels.

The panel's place in the picture follows from its gridPos and the grid size board_picture draws with; inside it,
each table row is a horizontal band of cells, and only mapped cells (the freshness board's status) are filled with a
colour other than the panel's. Rows are told apart by the cell borders between them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from civiclake.observability.board_picture import CELL_HEIGHT, COLOURS, GRID_COLUMNS

TITLE_INCHES = 0.6  # the board title's strip above the grid (board_picture.render_board)
TOLERANCE = 40  # per channel: anti-aliasing at the edges of a fill
MIN_RUN = 20  # pixels of one colour on a pixel row for it to count as a filled cell


def panel_box(board: dict[str, Any], panel: dict[str, Any], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of ``panel`` in a picture of ``size`` pixels drawn from ``board``."""
    width, height = size
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    inches = rows * CELL_HEIGHT + TITLE_INCHES
    grid = panel["gridPos"]
    top = (TITLE_INCHES + grid["y"] * CELL_HEIGHT) / inches * height
    bottom = (TITLE_INCHES + (grid["y"] + grid["h"]) * CELL_HEIGHT) / inches * height
    left, right = grid["x"] / GRID_COLUMNS * width, (grid["x"] + grid["w"]) / GRID_COLUMNS * width
    return round(left), round(top), round(right), round(bottom)


def _near(pixel: tuple[int, ...], colour: str) -> bool:
    rgb = tuple(int(colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel[:3], rgb, strict=True))


def table_row_colours(picture: Path, board: dict[str, Any], panel_title: str, names: tuple[str, ...]) -> list[str]:
    """Top to bottom, the name (among ``names``, keys of board_picture.COLOURS) of each filled row band."""
    (panel,) = [p for p in board["panels"] if p.get("title") == panel_title]
    image = Image.open(picture).convert("RGB")
    left, top, right, bottom = panel_box(board, panel, image.size)
    pixels = image.load()
    bands: list[str] = []
    previous: str | None = None
    for y in range(top, bottom):
        counts = {name: 0 for name in names}
        for x in range(left, right):
            for name in names:
                if _near(pixels[x, y], COLOURS[name]):
                    counts[name] += 1
        found = max(counts, key=lambda name: counts[name])
        line = found if counts[found] >= MIN_RUN else None
        if line is not None and line != previous:
            bands.append(line)
        previous = line
    return bands
