#!/usr/bin/env bash
# The Pi's software path on this (x86) machine, emulated: for Debian 12 (Pi OS Bookworm's base,
# Python 3.11) and Debian 13 (Trixie, Python 3.13) arm64 root filesystems,
#   1. the test suite (through ../shared/tools/aarch64-check: debootstrap + qemu-user + binfmt_misc;
#      see its header), and
#   2. what install-pi.sh --offline does with pip: the locked wheels from an offline bundle
#      (scripts/make-offline-bundle.sh), --require-hashes --no-index, into a fresh venv, then the
#      booth built as a wheel and installed from it, then `kiosk check` and `kiosk score` from /.
# Usage, as root, from the checkout:  nice -n 15 scripts/test-aarch64.sh [bookworm] [trixie]
# Takes long: ~15 min per suite the first time (rootfs, venv), ~15 min per test run after that.
set -euo pipefail
cd "$(dirname "$0")/.."
CHECK=${A64_CHECK:-../shared/tools/aarch64-check}
# Installing the wheel into a fresh venv (tests/test_packaging.py) takes minutes under emulation.
export A64_TEST_TIMEOUT=${A64_TEST_TIMEOUT:-600}
CACHE=${A64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aarch64-check}
suites=("$@"); [ ${#suites[@]} -gt 0 ] || suites=(bookworm trixie)
status=0
for suite in "${suites[@]}"; do
    A64_SUITE=$suite "$CHECK" || status=1
    root=$CACHE/$suite
    bundle=$root/src/bundle
    rm -rf "$bundle" && mkdir -p "$bundle"
    scripts/make-offline-bundle.sh "$bundle" "$suite" >&2
    # The checkout as install-pi.sh sees it (aarch64-check copied it to /src/proj).
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    for m in dev sys; do mountpoint -q "$root/$m" || mount --rbind "/$m" "$root/$m"; mount --make-rslave "$root/$m"; done
    trap 'umount -R "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || true' EXIT
    if env -i HOME=/root LANG=C.UTF-8 PATH=/usr/sbin:/usr/bin:/sbin:/bin SDL_VIDEODRIVER=dummy GPIOZERO_PIN_FACTORY=mock \
        PIP_DISABLE_PIP_VERSION_CHECK=1 chroot "$root" sh -euc "
            rm -rf /opt/lockvenv /tmp/lockwheel
            python3 -m venv /opt/lockvenv
            /opt/lockvenv/bin/pip install -q --require-hashes --no-deps --no-index --find-links /src/bundle/$suite \
                -r /src/proj/requirements/$suite-aarch64.txt
            /opt/lockvenv/bin/pip wheel -q --no-deps --no-build-isolation --no-index -w /tmp/lockwheel /src/proj
            /opt/lockvenv/bin/pip install -q --no-deps --no-index --find-links /tmp/lockwheel faceeva-kiosk
            cd / && /opt/lockvenv/bin/kiosk check --headless --camera demo
            /opt/lockvenv/bin/kiosk score \$(/opt/lockvenv/bin/python -c 'import kiosk.config as c, pathlib; print(pathlib.Path(c.__file__).parent / \"assets\" / \"demo_face.jpg\")')
            /opt/lockvenv/bin/pip freeze | tr '\n' ' '"; then
        echo "aarch64 $suite: locked offline install + kiosk check + kiosk score: ok"
    else
        echo "aarch64 $suite: locked offline install + kiosk check + kiosk score: FAILED"; status=1
    fi
    umount -R "$root/dev" "$root/sys" "$root/proc" 2>/dev/null || true
    trap - EXIT
done
exit $status
