"""The ``paindiffusion`` command dispatcher."""

import pytest

from paindiffusion_ros import cli


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    assert "command" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_has_options_and_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    assert f"paindiffusion {name}" in capsys.readouterr().out


@pytest.mark.parametrize("argv, reason", [
    (["train", "--config", "/nonexistent.yaml", "--out", "OUT"], "cannot read training config /nonexistent.yaml"),
    (["train", "--steps", "-5", "--out", "OUT"], "steps=-5 is outside"),
    (["train", "--device", "bogus", "--out", "OUT"], "device='bogus' is not a torch device"),
    (["eval", "--model", "/nonexistent", "--out", "OUT"], "checkpoint directory /nonexistent does not exist"),
    (["eval", "--subjects", "0", "--out", "OUT"], "subjects=0 is outside"),
    (["demo", "--duration", "-1", "--out", "OUT"], "--duration must be positive"),
    (["demo", "--params-file", "/nonexistent.yaml", "--out", "OUT"], "parameters file /nonexistent.yaml does not exist"),
    (["bench", "--model", "/nonexistent"], "checkpoint directory /nonexistent does not exist"),
    (["bench", "--chunks", "0"], "--chunks must be at least 1"),
])
def test_a_user_error_is_one_line_and_status_2(argv, reason, tmp_path, capsys):
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"paindiffusion {argv[0]}: ") and reason in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_bad_option_type_stays_an_argparse_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--duration", "soon"])
    assert exc.value.code == 2 and "invalid float value" in capsys.readouterr().err


def test_an_unexpected_exception_keeps_its_traceback(monkeypatch):
    from paindiffusion_ros.session import demo

    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(demo, "run", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["demo"])


def test_a_node_parameter_refused_at_demo_start_is_one_line_and_status_2(tmp_path, capfd):
    """rclpy's ParameterException names the node and parameter; the half-built node shuts down cleanly."""
    argv = ["demo", "--image-size", "10", "--duration", "1", "--out", str(tmp_path / "out"), "--no-video"]
    assert cli.main(argv) == 2
    err = capfd.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("paindiffusion demo: ")]
    assert errors == [err.splitlines()[-1]] and "node face_renderer" in errors[0] and "Parameter size out of range" in errors[0]
    assert "Traceback" not in err and "Exception" not in err
