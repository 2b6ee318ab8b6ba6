"""The README's parameter table is the one the nodes declare."""

from pathlib import Path

from paindiffusion_ros.session import params_doc

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_parameter_table_matches_the_nodes(capsys):
    status = params_doc.main(["--check", str(README)])
    assert status == 0, capsys.readouterr().out


def test_replace_block_keeps_the_text_around_it():
    text = f"intro\n{params_doc.BEGIN}\nold\n{params_doc.END}\noutro\n"
    assert params_doc.replace_block(text, "new", "x") == f"intro\n{params_doc.BEGIN}\nnew\n{params_doc.END}\noutro\n"
