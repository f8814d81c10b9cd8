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
    for line in ("Type=notify", "WatchdogSec=30", "Restart=always", "PrivateNetwork=yes", "UMask=0077"):
        assert line in text.splitlines(), line
    assert "SDL_AUDIODRIVER=dummy" in text


@pytest.mark.parametrize("name", UNITS)
def test_units_never_give_up_and_give_lgpio_a_writable_folder(name):
    """A start limit with Conflicts=getty@tty1 leaves tty1 dark for good; lgpio's notification pipe
    goes to $LG_WD or the working directory, which must be writable under ProtectSystem=strict."""
    lines = (REPO / "systemd" / name).read_text().splitlines()
    for line in ("StartLimitIntervalSec=0", "RuntimeDirectory=faceeva", "WorkingDirectory=%t/faceeva",
                 "Environment=LG_WD=%t/faceeva", "MemoryMax=600M"):
        assert line in lines, line
    assert not any(line.startswith(("StartLimitBurst=", "WorkingDirectory=/opt")) for line in lines)
    assert not any("udev-settle" in line for line in lines if not line.startswith("#"))


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


def installer(tmp_path, *args, codename="bookworm", arch="aarch64", config=None, path=None):
    release = tmp_path / "os-release"
    release.write_text(f"ID=debian\nVERSION_CODENAME={codename}\n")
    conf_dir = tmp_path / "etc-faceeva"
    conf_dir.mkdir(exist_ok=True)
    if config is not None:
        (conf_dir / "config.toml").write_text(config)
    env = dict(os.environ, FACEEVA_OS_RELEASE=str(release), FACEEVA_ARCH=arch, FACEEVA_CONF_DIR=str(conf_dir),
               DESKTOP_USER="booth", PATH=path or os.environ["PATH"])
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


def steps_of(run):
    return [line[2:] for line in run.stdout.splitlines() if line.startswith("+ ")]


def drop_in(run, path):
    """The file the installer writes at `path`, as its dry run prints it."""
    lines = run.stdout.splitlines()
    start = lines.index(f"+ write {path} (mode 0644):") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("|   "):
            break
        body.append(line[4:])
    return "\n".join(body) + "\n"


def test_installer_installs_pinned_hashed_packages_and_the_booth_as_a_wheel(tmp_path):
    run = installer(tmp_path, "--dry-run")
    steps = steps_of(run)
    lock = str(REPO / "requirements" / "bookworm-aarch64.txt")
    assert f"/opt/faceeva/.venv/bin/python -m pip install --require-hashes --no-deps -r {lock}" in steps
    assert not any("pip install -e" in s or "--upgrade" in s or "rsync" in s for s in steps)
    assert any(s.endswith("--force-reinstall --find-links " + s.split()[-2] + " faceeva-kiosk") for s in steps)
    trixie = installer(tmp_path, "--dry-run", codename="trixie")
    assert str(REPO / "requirements" / "trixie-aarch64.txt") in trixie.stdout


@needs_systemd
@pytest.mark.parametrize("desktop", [False, True])
def test_captures_drop_in_is_written_safely_for_the_unit_that_runs(tmp_path, desktop):
    """A quote, $(...) or % in captures_dir is data, never a command; the drop-in parses; the folder
    belongs to the user the booth runs as, even while saving is off."""
    odd = "/srv/it's $(touch /tmp/owned) 50%"
    args = ["--dry-run", "--desktop"] if desktop else ["--dry-run"]
    run = installer(tmp_path, *args, config=f'[booth]\ncaptures_dir = "{odd}"\n')
    assert run.returncode == 0, run.stderr
    steps = steps_of(run)
    unit = "faceeva-kiosk-desktop.service" if desktop else "faceeva-kiosk.service"
    owner = "booth" if desktop else "faceeva"
    assert f"mkdir -p {odd}" in steps and f"chown {owner}: {odd}" in steps and f"chmod 0700 {odd}" in steps
    assert not any(s.startswith("sh -c") for s in steps)
    where = "user" if desktop else "system"
    text = drop_in(run, f"/etc/systemd/{where}/{unit}.d/captures.conf")
    assert 'ReadWritePaths="/srv/it\'s $(touch /tmp/owned) 50%%"' in text
    unit_file = local_copy(tmp_path, unit)
    (tmp_path / f"{unit}.d").mkdir()
    (tmp_path / f"{unit}.d" / "captures.conf").write_text(text)
    check = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True)
    assert check.returncode == 0 and "captures.conf" not in check.stderr, check.stderr


@pytest.mark.parametrize("value, words", [('""', "expected an absolute path"),
                                          ('"captures"', "expected an absolute path"),
                                          ('"/srv/a\\"b"', "without quotes")])
def test_unusable_captures_dir_stops_the_installer_before_any_step(tmp_path, value, words):
    run = installer(tmp_path, "--dry-run", config=f"[booth]\ncaptures_dir = {value}\n")
    assert run.returncode == 1 and words in run.stderr and not run.stdout


def test_installer_desktop_enables_for_the_desktop_user_only(tmp_path):
    desktop = installer(tmp_path, "--desktop", "--dry-run")
    assert desktop.returncode == 0, desktop.stderr
    assert "--global" not in desktop.stdout
    link = "/home/booth/.config/systemd/user/graphical-session.target.wants/faceeva-kiosk-desktop.service"
    assert f"ln -sfn /etc/systemd/user/faceeva-kiosk-desktop.service {link}" in steps_of(desktop)


def test_uninstall_purge_removes_the_captured_faces_too(tmp_path):
    captures = tmp_path / "captures"
    captures.mkdir()
    removal = installer(tmp_path, "--uninstall", "--purge", "--dry-run",
                        config=f'[booth]\ncaptures_dir = "{captures}"\n')
    assert removal.returncode == 0, removal.stderr
    steps = steps_of(removal)
    assert "rm -rf /opt/faceeva" in steps and f"rm -rf {tmp_path / 'etc-faceeva'}" in steps
    assert f"find {captures} -maxdepth 1 -type f -name capture-*.jpg -delete" in steps
    assert f"rmdir --ignore-fail-on-non-empty {captures}" in steps
    kept = installer(tmp_path, "--uninstall", "--dry-run")
    assert "capture" not in " ".join(steps_of(kept)) and "--purge" in kept.stdout


def test_offline_install_uses_only_the_wheelhouse(tmp_path):
    (tmp_path / "bundle" / "bookworm").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    dpkg = bin_dir / "dpkg-query"  # answers like a Pi with every apt package installed, or none
    dpkg.write_text('#!/bin/sh\n[ -n "$PI_HAS_NONE" ] && exit 1; printf "install ok installed"\n')
    dpkg.chmod(0o755)
    path = f"{bin_dir}:{os.environ['PATH']}"
    os.environ["PI_HAS_NONE"] = "1"
    try:
        bare = installer(tmp_path, "--offline", str(tmp_path / "bundle"), "--dry-run", path=path)
    finally:
        del os.environ["PI_HAS_NONE"]
    assert bare.returncode == 1 and "offline install needs these apt packages first: " in bare.stderr
    assert "python3-picamera2" in bare.stderr and not bare.stdout
    run = installer(tmp_path, "--offline", str(tmp_path / "bundle"), "--dry-run", path=path)
    assert run.returncode == 0, run.stderr
    steps = steps_of(run)
    assert not any(s.startswith("apt-get") for s in steps)
    assert any(f"--no-index --find-links {tmp_path / 'bundle' / 'bookworm'} -r" in s for s in steps)
    missing = installer(tmp_path, "--offline", str(tmp_path / "none"), "--dry-run")
    assert missing.returncode == 2 and "no folder" in missing.stderr


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


def exposure(unit_file) -> float:
    run = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit_file)], capture_output=True, text=True)
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", run.stdout)
    assert match, run.stdout + run.stderr
    return float(match.group(1))


@needs_systemd
@pytest.mark.parametrize("desktop", [False, True])
def test_web_install_allows_only_the_booths_own_networks_and_stays_hardened(tmp_path, desktop):
    """--web: no PrivateNetwork, an IP allow-list of localhost and the private and link-local ranges,
    Internet sockets allowed; the unit with that drop-in verifies and its exposure stays <= 4.5."""
    run = installer(tmp_path, *(["--dry-run", "--web"] + (["--desktop"] if desktop else [])),
                    config='[web]\nhost = "0.0.0.0"\n')
    assert run.returncode == 0, run.stderr
    unit = "faceeva-kiosk-desktop.service" if desktop else "faceeva-kiosk.service"
    where = "user" if desktop else "system"
    text = drop_in(run, f"/etc/systemd/{where}/{unit}.d/web.conf")
    lines = text.splitlines()
    assert "PrivateNetwork=no" in lines and "IPAddressDeny=any" in lines
    assert "IPAddressAllow=localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7" in lines
    assert lines[-2:] == ["RestrictAddressFamilies=", "RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"]
    steps = steps_of(run)
    conf = tmp_path / "etc-faceeva" / "config.toml"
    assert f"chmod 0640 {conf}" in steps  # it may hold [web] admin_token now
    assert "only this Pi can open the pages" not in run.stdout
    unit_file = local_copy(tmp_path, unit)
    before = exposure(unit_file)
    (tmp_path / f"{unit}.d").mkdir()
    (tmp_path / f"{unit}.d" / "web.conf").write_text(text)
    check = subprocess.run(["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True)
    assert check.returncode == 0 and "web.conf" not in check.stderr, check.stderr
    after = exposure(unit_file)
    assert before < after <= 4.5, (before, after)  # the drop-in was read, and it is still hardened


def test_without_web_a_reinstall_takes_the_network_away_again_and_a_local_only_host_is_flagged(tmp_path):
    plain = steps_of(installer(tmp_path, "--dry-run"))
    assert "rm -f /etc/systemd/system/faceeva-kiosk.service.d/web.conf" in plain
    assert not any("web.conf" in s and "write" in s for s in plain)
    local = installer(tmp_path, "--dry-run", "--web")  # the default [web] host is 127.0.0.1
    assert local.returncode == 0 and 'set host = "0.0.0.0"' in local.stdout
