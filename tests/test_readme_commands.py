"""The README's commands, run in the order it gives them, in a folder of their own: the README cannot drift from
what works. Every ```bash block is walked, line by line, in one shell (so `export` and `source` carry on, and a
server started with `&` serves the lines after it)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from civiclake.demo.mirror.server import MirrorServer
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

README = REPO_ROOT / "README.md"
# `make test` is what runs this test; `make demo` is run as its recipe (checked below) with the clone's virtualenv.
MAKE_LINES = {"make test": None, "make demo": ".venv/bin/civiclake demo"}
MARKER = "::readme::"


def readme_commands(text: str) -> list[str]:
    """The command lines of the README's bash blocks, in order; a quoted string may go on over several lines."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                words = shlex.split(pending, comments=True)
            except ValueError:  # an unclosed quote: the command goes on on the next line
                continue
            if words:
                commands.append(pending)
            pending = ""
        assert not pending, f"README.md: a bash block ends inside a quoted string: {pending!r}"
    return commands


def as_run(command: str) -> str | None:
    for make_line, replacement in MAKE_LINES.items():
        if command.split("#")[0].strip() == make_line:
            return replacement
    return command


def test_the_readme_make_demo_is_the_command_the_walk_runs() -> None:
    recipe = re.search(r"^demo:.*\n\t(.*)$", (REPO_ROOT / "Makefile").read_text(), flags=re.MULTILINE)
    assert recipe is not None and recipe.group(1) == "$(BIN)/civiclake demo"


def test_the_readme_commands_work_in_the_order_written(tmp_path: Path) -> None:
    commands = readme_commands(README.read_text())
    assert len(commands) >= 15, commands  # the walkthroughs are there to be walked

    walk = tmp_path / "clone"
    walk.mkdir()
    (walk / ".venv").symlink_to(REPO_ROOT / ".venv")
    script = ["exec 2>&1"]  # one stream: each command's errors stay next to it
    for number, command in enumerate(commands):
        run = as_run(command)
        if run is None:
            continue
        script.append(f"echo '{MARKER} {number} start'")
        if run.split("#")[0].rstrip().endswith("&"):
            # A server in the background: its README reader waits for it to say it is up before the next line.
            log = f"background-{number}.log"
            script.append(f"{run.split('#')[0].rstrip().removesuffix('&')} > {log} 2>&1 &")
            script.append(f"timeout 120 bash -c 'until grep -q \"Ctrl-C stops\" {log}; do sleep 0.5; done'")
        else:
            script.append(run)
        script.append(f"echo '{MARKER} {number} exit' $?")
    # Servers the README starts in the background stop with the walk (`kill` is how its README user stops them).
    script.append("jobs -p | xargs -r kill; wait")

    environment = {name: value for name, value in os.environ.items() if not name.startswith(("CIVICLAKE", "VIRTUAL"))}
    with MirrorServer() as mirror:
        # The real catalogue's stand-in: the data.gouv.fr ids and searches the README names are in the mirror.
        environment["CIVICLAKE__DATAGOUV__API_URL"] = mirror.api_url
        result = subprocess.run(
            ["bash", "-c", "\n".join(script)],
            cwd=walk,
            env=environment,
            capture_output=True,
            text=True,
            timeout=2400,
        )
    output = result.stdout + result.stderr

    exits = dict(re.findall(rf"^{MARKER} (\d+) exit (\d+)$", result.stdout, flags=re.MULTILINE))
    for number, command in enumerate(commands):
        if as_run(command) is None:
            continue
        section = output.split(f"{MARKER} {number} start", 1)[-1].split(f"{MARKER} {number} exit", 1)[0]
        assert exits.get(str(number)) == "0", f"README command {command!r} failed:\n{section[-3000:]}"
    assert "AJACCIO" in output  # the README's query on the postal codes answers
    assert (walk / ".civiclake" / "catalog.db").is_file()
