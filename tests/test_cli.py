"""The `kiosk` command line: where options may go, and flags that contradict each other."""

import pytest

from kiosk.cli import build_parser, main


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_is_accepted_before_or_after_the_subcommand(tmp_path, capsys, where):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text("[models]\nthreads = 2\n")
    bad.write_text("[models]\nthreads = 99\n")
    for path, status in ((good, 0), (bad, 2)):
        argv = ["--config", str(path), "config"] if where == "before" else ["config", "--config", str(path)]
        assert main(argv) == status
    out, err = capsys.readouterr()
    assert f"{good}: valid" in out and str(bad) in err and "threads" in err


def test_demo_and_camera_together_are_refused_not_one_silently_ignored(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", "--demo", "--camera", str(tmp_path)])
    assert exit_.value.code == 2
    assert "--camera" in capsys.readouterr().err


def test_export_from_a_fresh_clone_says_where_the_checkpoint_comes_from(capsys, tmp_path):
    pytest.importorskip("torch")  # the training extra
    assert main(["export", str(tmp_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "checkpoint.pt: no checkpoint" in err and "kiosk train" in err
