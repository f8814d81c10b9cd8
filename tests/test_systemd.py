"""The unit files and the Pi installer (dry-run): they parse, verify, are hardened, and the
installer prints every step and refuses what it cannot support."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from .conftest import REPO

UNITS = ["faceeva-kiosk.service", "faceeva-kiosk-desktop.service"]
needs_systemd = pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")


def local_copy(tmp_path, name):
    """The unit with ExecStart pointing at an executable that exists here, so verify can check it."""
    text = (REPO / "systemd" / name).read_text()
    assert "ExecStart=/opt/faceeva/.venv/bin/kiosk " in text
    path = tmp_path / name
    path.write_text(text.replace("/opt/faceeva/.venv/bin/kiosk", sys.executable))
    return path


@pytest.mark.parametrize("name", UNITS)
def test_units_declare_notify_watchdog_and_restart(name):
    text = (REPO / "systemd" / name).read_text()
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "PrivateNetwork=yes", "StartLimitBurst=10"):
        assert line in text.splitlines(), line
    assert "SDL_AUDIODRIVER=dummy" in text


def test_console_unit_can_become_drm_master():
    text = (REPO / "systemd" / "faceeva-kiosk.service").read_text()
    for line in ("TTYPath=/dev/tty1", "PAMName=login", "StandardInput=tty-force", "DevicePolicy=closed",
                 "DeviceAllow=char-drm rw", "SupplementaryGroups=video render input gpio", "ProtectHome=yes"):
        assert line in text.splitlines(), line


@needs_systemd
@pytest.mark.parametrize("name", UNITS)
def test_units_verify(tmp_path, name):
    run = subprocess.run(["systemd-analyze", "verify", str(local_copy(tmp_path, name))],
                         capture_output=True, text=True)
    problems = [line for line in run.stderr.splitlines() if name in line]
    assert run.returncode == 0 and not problems, run.stderr


@needs_systemd
@pytest.mark.parametrize("name", UNITS)
def test_units_exposure_is_at_most_4_5(tmp_path, name):
    run = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(local_copy(tmp_path, name))],
                         capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout + run.stderr
    assert float(match.group(1)) <= 4.5


def installer(tmp_path, *args, codename="bookworm", arch="aarch64"):
    release = tmp_path / "os-release"
    release.write_text(f"ID=debian\nVERSION_CODENAME={codename}\n")
    env = dict(os.environ, FACEEVA_OS_RELEASE=str(release), FACEEVA_ARCH=arch)
    return subprocess.run(["bash", str(REPO / "scripts" / "install-pi.sh"), *args], capture_output=True,
                          text=True, env=env)


def test_installer_dry_run_prints_every_step(tmp_path):
    run = installer(tmp_path, "--dry-run")
    assert run.returncode == 0, run.stderr
    steps = [line[2:] for line in run.stdout.splitlines() if line.startswith("+ ")]
    joined = "\n".join(steps)
    assert "python3-picamera2" in joined and "fonts-nanum" in joined
    assert "python3 -m venv --system-site-packages /opt/faceeva/.venv" in joined
    assert "/etc/systemd/system/faceeva-kiosk.service" in joined
    assert steps[-3:] == ["systemctl daemon-reload", "systemctl enable faceeva-kiosk.service",
                          "systemctl restart faceeva-kiosk.service"]


def test_installer_desktop_and_uninstall_dry_runs(tmp_path):
    desktop = installer(tmp_path, "--desktop", "--dry-run")
    assert desktop.returncode == 0 and "systemctl --global enable faceeva-kiosk-desktop.service" in desktop.stdout
    removal = installer(tmp_path, "--uninstall", "--purge", "--dry-run")
    assert removal.returncode == 0
    assert "+ rm -rf /opt/faceeva" in removal.stdout and "+ rm -rf /etc/faceeva" in removal.stdout


@pytest.mark.parametrize("codename, arch, reason", [("bullseye", "aarch64", "unsupported OS 'bullseye'"),
                                                    ("bookworm", "armv7l", "unsupported architecture armv7l")])
def test_installer_refuses_unsupported_systems(tmp_path, codename, arch, reason):
    run = installer(tmp_path, "--dry-run", codename=codename, arch=arch)
    assert run.returncode == 1 and reason in run.stderr and not run.stdout


@pytest.mark.skipif(not shutil.which("setpriv"), reason="util-linux setpriv not installed")
def test_installer_refuses_without_root():
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as folder:  # pytest's tmp tree is private to root
        folder = pathlib.Path(folder)
        os.chmod(folder, 0o755)
        release = folder / "os-release"
        release.write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
        script = folder / "install-pi.sh"
        shutil.copy(REPO / "scripts" / "install-pi.sh", script)
        os.chmod(release, 0o644)
        os.chmod(script, 0o755)
        env = dict(os.environ, FACEEVA_OS_RELEASE=str(release), FACEEVA_ARCH="aarch64")
        run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script)],
                             capture_output=True, text=True, env=env, cwd="/")
    assert run.returncode == 1 and "needs root" in run.stderr and "sudo" in run.stderr
