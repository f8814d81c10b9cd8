#!/usr/bin/env bash
# Install (or remove) faceeva kiosk on Raspberry Pi OS Bookworm/Trixie 64-bit so the booth starts at
# power-up. Idempotent: run it again after `git pull` to update. Every step is printed; --dry-run
# only prints them.
#
#   sudo scripts/install-pi.sh [--desktop] [--dry-run]      install, enable and start
#   sudo scripts/install-pi.sh --uninstall [--purge] [--dry-run]
#
# --desktop: Pi OS with desktop (Wayland); starts with the desktop session of $DESKTOP_USER
#            (default: the user who ran sudo). Default: Pi OS Lite, fullscreen on tty1 via KMSDRM.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/faceeva
CONF_DIR=/etc/faceeva
USER_NAME=faceeva
UNIT=faceeva-kiosk.service
DESKTOP_UNIT=faceeva-kiosk-desktop.service
OS_RELEASE=${FACEEVA_OS_RELEASE:-/etc/os-release}   # overridable for tests
ARCH=${FACEEVA_ARCH:-$(uname -m)}
APT_PACKAGES="python3-venv python3-picamera2 python3-libcamera python3-lgpio fonts-nanum rsync"

DRY=0 MODE=install DESKTOP=0 PURGE=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY=1 ;;
        --uninstall) MODE=uninstall ;;
        --purge) PURGE=1 ;;
        --desktop) DESKTOP=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install-pi: unknown option $arg (see --help)" >&2; exit 2 ;;
    esac
done

fail() { echo "install-pi: $*" >&2; exit 1; }
step() {  # print a step, then run it unless --dry-run
    echo "+ $*"
    [ "$DRY" = 1 ] || "$@"
}

# --- refuse what we cannot support ------------------------------------------------------------
codename=$( . "$OS_RELEASE" 2>/dev/null && echo "${VERSION_CODENAME:-}" ) || true
case "$codename" in
    bookworm|trixie) ;;
    *) fail "unsupported OS '${codename:-unknown}': needs Raspberry Pi OS Bookworm or Trixie (64-bit)" ;;
esac
[ "$ARCH" = aarch64 ] || fail "unsupported architecture $ARCH: needs 64-bit Raspberry Pi OS (aarch64)"
if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then
    fail "needs root to install packages and services: run it with sudo (or add --dry-run to see the steps)"
fi
DESKTOP_USER=${DESKTOP_USER:-${SUDO_USER:-pi}}

install_booth() {
    step apt-get update
    step env DEBIAN_FRONTEND=noninteractive apt-get install -y $APT_PACKAGES
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        step useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    fi
    for group in video render input gpio; do
        if getent group "$group" >/dev/null; then step usermod -aG "$group" "$USER_NAME"; fi
    done
    step mkdir -p "$PREFIX"
    step rsync -a --delete --exclude .git --exclude .venv --exclude models/checkpoint.pt "$SRC/" "$PREFIX/"
    # --system-site-packages: apt's picamera2/libcamera are not on PyPI (docs/platform.md).
    if [ ! -x "$PREFIX/.venv/bin/python" ]; then step python3 -m venv --system-site-packages "$PREFIX/.venv"; fi
    step "$PREFIX/.venv/bin/python" -m pip install --upgrade pip
    step "$PREFIX/.venv/bin/python" -m pip install -e "$PREFIX"
    step mkdir -p "$CONF_DIR"
    if [ ! -f "$CONF_DIR/config.toml" ]; then step install -m 0644 "$SRC/config.toml" "$CONF_DIR/config.toml"; fi
    captures_unit
    if [ "$DESKTOP" = 1 ]; then
        step install -m 0644 "$SRC/systemd/$DESKTOP_UNIT" "/etc/systemd/user/$DESKTOP_UNIT"
        step systemctl --global enable "$DESKTOP_UNIT"
        echo "install-pi: the booth starts with $DESKTOP_USER's next desktop session (or log out and in)"
    else
        step install -m 0644 "$SRC/systemd/$UNIT" "/etc/systemd/system/$UNIT"
        step systemctl daemon-reload
        step systemctl enable "$UNIT"
        step systemctl restart "$UNIT"
    fi
    echo "install-pi: done. Check it with: $PREFIX/.venv/bin/kiosk --config $CONF_DIR/config.toml check"
}

captures_unit() {
    # Captures are off by default; when config.toml turns them on, allow writing to that folder only.
    local conf="$CONF_DIR/config.toml" dropin="/etc/systemd/system/$UNIT.d"
    [ -f "$conf" ] || conf="$SRC/config.toml"
    if grep -Eq '^[[:space:]]*save_captures[[:space:]]*=[[:space:]]*true' "$conf"; then
        local dir
        dir=$(sed -nE 's/^[[:space:]]*captures_dir[[:space:]]*=[[:space:]]*"([^"]*)".*/\1/p' "$conf" | head -n1)
        step mkdir -p "$dir"
        step chown "$USER_NAME:$USER_NAME" "$dir"
        step mkdir -p "$dropin"
        step sh -c "printf '[Service]\nReadWritePaths=%s\n' '$dir' > '$dropin/captures.conf'"
    elif [ -e "$dropin/captures.conf" ]; then
        step rm -f "$dropin/captures.conf"
    fi
}

uninstall_booth() {
    if systemctl list-unit-files "$UNIT" >/dev/null 2>&1; then
        step systemctl disable --now "$UNIT" || true
    fi
    step rm -f "/etc/systemd/system/$UNIT" "/etc/systemd/user/$DESKTOP_UNIT"
    step rm -rf "/etc/systemd/system/$UNIT.d"
    step systemctl --global disable "$DESKTOP_UNIT" || true
    step systemctl daemon-reload
    step rm -rf "$PREFIX"
    if [ "$PURGE" = 1 ]; then
        step rm -rf "$CONF_DIR"
        if id "$USER_NAME" >/dev/null 2>&1; then step userdel "$USER_NAME"; fi
    else
        echo "install-pi: kept $CONF_DIR/config.toml (add --purge to remove it and the $USER_NAME user)"
    fi
}

if [ "$MODE" = install ]; then install_booth; else uninstall_booth; fi
