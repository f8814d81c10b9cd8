"""The wheel is the booth: built from the repo, installed into a fresh venv, it runs from any folder.

Nothing here downloads anything: the wheel is built with --no-build-isolation, and the fresh venv
finds the dependencies (numpy, OpenCV, LiteRT, pygame-ce...) already installed for this test run
through a .pth file, so pip has nothing to fetch (--no-index).
"""

import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

ENV = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", GPIOZERO_PIN_FACTORY="mock",
           PYTHONPATH="")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of the source (pip builds in the tree it is given)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    keep = ["kiosk", "models", "pyproject.toml", "README.md", "config.toml"]
    source.mkdir()
    for name in keep:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "checkpoint.pt", "*.egg-info"))
        else:
            shutil.copy(REPO / name, source / name)
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "-w", str(work / "dist"), str(source)],
                         capture_output=True, text=True, timeout=600, env=ENV)
    assert run.returncode == 0, run.stderr
    (built,) = (work / "dist").glob("faceeva_kiosk-*.whl")
    return built


def test_the_wheel_holds_every_module_the_demo_portrait_and_the_models(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "kiosk").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    shipped = {f"kiosk/models/{p.relative_to(REPO / 'models').as_posix()}" for p in (REPO / "models").rglob("*")
               if p.is_file() and p.suffix in (".tflite", ".json")}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert "kiosk/assets/demo_face.jpg" in names
    assert not any(n.endswith(".pt") or "__pycache__" in n for n in names)


def test_the_installed_wheel_runs_the_booth_scores_and_checks_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies this test run already has, without the project itself (an editable install
    # hooks in through .pth files, which a path listed in another .pth does not run).
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    Path(purelib, "deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index",
                              str(wheel)],
                             capture_output=True, text=True, timeout=600, env=ENV)
    assert install.returncode == 0, install.stderr
    kiosk = venv / "bin" / "kiosk"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "import kiosk.config as c; print(c.__file__); print(c.shipped_models())"
    where = subprocess.run([str(python), "-c", probe],
                           capture_output=True, text=True, cwd=elsewhere, env=ENV)
    module_file, models = where.stdout.split()
    assert module_file.startswith(purelib) and models.startswith(purelib), where.stdout

    portrait = Path(purelib, "kiosk", "assets", "demo_face.jpg")
    score = subprocess.run([str(kiosk), "score", "--json", str(portrait)], capture_output=True, text=True,
                           cwd=elsewhere, env=ENV, timeout=300)
    assert score.returncode == 0 and '"status": "ok"' in score.stdout, score.stderr

    check = subprocess.run([str(kiosk), "check", "--headless", "--camera", "demo"], capture_output=True, text=True,
                           cwd=elsewhere, env=ENV, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f" in {models}, hashes match" in check.stdout  # the models the wheel carries

    booth = subprocess.Popen([str(kiosk), "run", "--demo", "--windowed", "--headless"], stderr=subprocess.PIPE,
                             text=True, cwd=elsewhere, env=ENV)
    try:
        lines = []
        for line in booth.stderr:  # bounded by the subprocess timeout below
            lines.append(line)
            if "booth running" in line:
                break
        time.sleep(1.0)
        assert booth.poll() is None, "".join(lines)
        booth.send_signal(signal.SIGTERM)
        assert booth.wait(timeout=60) == 0
    finally:
        booth.kill()


@pytest.mark.parametrize("lock, python", [("bookworm-aarch64.txt", "3.11"), ("trixie-aarch64.txt", "3.13")])
def test_each_pi_lock_pins_every_dependency_for_its_target_with_hashes(lock, python):
    """A lock that drifted from pyproject.toml (scripts/lock.sh not re-run) fails here."""
    import tomllib

    from packaging.requirements import Requirement

    blocks = (REPO / "requirements" / lock).read_text().split("\n")
    pins, hashed, name = {}, set(), None
    for line in blocks:
        if line and line[0].isalnum():
            name, version = line.split(" ")[0].split("==")
            pins[name.lower().replace("_", "-").replace(".", "-")] = version
        elif "--hash=sha256:" in line and name:
            hashed.add(name.lower().replace("_", "-").replace(".", "-"))
    target = {"python_version": python, "python_full_version": python + ".2", "platform_machine": "aarch64",
              "sys_platform": "linux", "platform_system": "Linux", "os_name": "posix",
              "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted = [r for r in wanted if r.marker is None or r.marker.evaluate(target)]
    for requirement in wanted:
        key = requirement.name.lower().replace("_", "-").replace(".", "-")
        assert key in pins, f"{requirement.name} missing from {lock}: run scripts/lock.sh"
        assert requirement.specifier.contains(pins[key], prereleases=True), (requirement, pins[key])
    assert set(pins) == hashed  # --require-hashes needs a hash for every pin
