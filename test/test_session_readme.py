"""The README agrees with the code: parameter table from the nodes, topics from the graph."""

import ast
from pathlib import Path

from paindiffusion_ros.session import params_doc
from paindiffusion_ros.session.demo import PROJECT_TOPICS, RECORDED_TOPICS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def test_readme_parameter_table_matches_the_nodes(capsys):
    status = params_doc.main(["--check", str(README)])
    assert status == 0, capsys.readouterr().out


def test_replace_block_keeps_the_text_around_it():
    text = f"intro\n{params_doc.BEGIN}\nold\n{params_doc.END}\noutro\n"
    assert params_doc.replace_block(text, "new", "x") == f"intro\n{params_doc.BEGIN}\nnew\n{params_doc.END}\noutro\n"


def table_topics(text: str) -> dict[str, str]:
    """``{topic: type}`` from Markdown table rows whose first two cells are `/topic` and `type`."""
    found = {}
    for line in text.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].startswith("/") and "/" in cells[1]:
            found[cells[0]] = cells[1]
    return found


def recorded_by_launch() -> set[str]:
    """``RECORDED_TOPICS`` of the launch file, read without importing launch (not installed here)."""
    tree = ast.parse((ROOT / "launch" / "bringup.launch.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "RECORDED_TOPICS" for t in node.targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError("launch/bringup.launch.py has no RECORDED_TOPICS")


def test_topic_lists_agree_everywhere():
    readme = table_topics(README.read_text())
    assert readme == PROJECT_TOPICS
    documented = table_topics((ROOT / "docs" / "topics.md").read_text())
    assert set(documented) == set(PROJECT_TOPICS)
    assert all(PROJECT_TOPICS[t].replace("/msg/", "/") == documented[t] for t in documented)
    assert recorded_by_launch() == set(RECORDED_TOPICS)
