#!/usr/bin/env bash
# Install (or remove) faceeva kiosk on Raspberry Pi OS Bookworm/Trixie 64-bit so the booth starts at
# power-up. Idempotent: run it again after `git pull` to update. Every step is printed; --dry-run
# only prints them.
#
#   sudo scripts/install-pi.sh [--desktop] [--web] [--offline DIR] [--dry-run]    install, enable and start
#   sudo scripts/install-pi.sh --uninstall [--purge] [--dry-run]
#
# --desktop:     Pi OS with desktop (Wayland); starts with the desktop session of $DESKTOP_USER
#                (default: the user who ran sudo). Default: Pi OS Lite, fullscreen on tty1 via KMSDRM.
# --web:         the booth serves its web pages ([web] in the config): the unit's "no network at all"
#                becomes an allow-list of localhost and the private and link-local ranges (the booth's
#                own Wi-Fi); without it a re-run takes the network away again.
# --offline DIR: no internet: Python packages from DIR (made by scripts/make-offline-bundle.sh);
#                the apt packages must already be installed (the script lists any that are not).
# --purge:       with --uninstall, also the config, the saved captures and the faceeva user.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/faceeva
CONF_DIR=${FACEEVA_CONF_DIR:-/etc/faceeva}            # overridable for tests
USER_NAME=faceeva
UNIT=faceeva-kiosk.service
DESKTOP_UNIT=faceeva-kiosk-desktop.service
OS_RELEASE=${FACEEVA_OS_RELEASE:-/etc/os-release}   # overridable for tests
ARCH=${FACEEVA_ARCH:-$(uname -m)}
# python3-setuptools/-wheel: the booth's wheel is built here without fetching build tools.
APT_PACKAGES="python3-venv python3-setuptools python3-wheel python3-picamera2 python3-libcamera python3-lgpio fonts-nanum"

DRY=0 MODE=install DESKTOP=0 PURGE=0 OFFLINE= WEB=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --uninstall) MODE=uninstall ;;
        --purge) PURGE=1 ;;
        --desktop) DESKTOP=1 ;;
        --web) WEB=1 ;;
        --offline) [ $# -ge 2 ] || { echo "install-pi: --offline needs a folder" >&2; exit 2; }
                   OFFLINE=$(cd "$2" 2>/dev/null && pwd) || { echo "install-pi: no folder $2" >&2; exit 2; }
                   shift ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "install-pi: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

fail() { echo "install-pi: $*" >&2; exit 1; }
step() {  # print a step, then run it unless --dry-run (arguments are never re-read by a shell)
    echo "+ $*"
    [ "$DRY" = 1 ] || "$@"
}
write_file() {  # write_file PATH MODE CONTENT: printed, then written unless --dry-run
    echo "+ write $1 (mode $2):"
    printf '%s\n' "$3" | sed 's/^/|   /'
    if [ "$DRY" = 0 ]; then
        printf '%s\n' "$3" > "$1.new" && chmod "$2" "$1.new" && mv -f "$1.new" "$1"
    fi
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
LOCK=$SRC/requirements/$codename-aarch64.txt
[ -f "$LOCK" ] || fail "$LOCK is missing: run scripts/lock.sh on a machine with internet"
if [ -n "$OFFLINE" ]; then
    WHEELS=$OFFLINE/$codename
    [ -d "$WHEELS" ] || fail "$WHEELS not found: make it with scripts/make-offline-bundle.sh $OFFLINE $codename"
    PIP_SOURCE=(--no-index --find-links "$WHEELS")
else
    PIP_SOURCE=()
fi
CONF=$CONF_DIR/config.toml
[ -f "$CONF" ] || CONF=$SRC/config.toml   # the first install copies it there

# The booth's own config reader (tomllib and the same validation as the booth), from this checkout.
booth_setting() {  # booth_setting EXPR: prints EXPR evaluated on the loaded config `c`
    PYTHONPATH="$SRC" python3 -c "import sys; from kiosk.config import ConfigError, load
try:
    c = load(sys.argv[1])
except ConfigError as exc:
    sys.exit(f'install-pi: {exc}')
print($1)" "$CONF"
}

captures_dir() {  # [booth] captures_dir, checked for what a unit file line cannot hold
    local dir
    dir=$(booth_setting c.booth.captures_dir) || exit 1
    case "$dir" in
        *[\"\\]*|*[[:cntrl:]]*) fail "[booth] captures_dir = '$dir' in $CONF: use a path without quotes, backslashes or control characters" ;;
    esac
    printf '%s' "$dir"
}

# Where captures go, and who owns them: the user the booth runs as.
captures_setup() {
    local dir=$1 owner dropin
    owner=$(booth_owner) dropin=$(dropin_dir)
    # Always made, so turning save_captures on later works without re-running this script.
    step mkdir -p "$dir"
    step chown "$owner:" "$dir"
    step chmod 0700 "$dir"
    step mkdir -p "$dropin"
    # systemd expands % specifiers: a literal % is written %%.
    write_file "$dropin/captures.conf" 0644 "# Made by install-pi.sh from [booth] captures_dir in $CONF_DIR/config.toml.
[Service]
ReadWritePaths=\"${dir//%/%%}\""
}

# Who the booth runs as, and the folder of its unit's drop-ins.
booth_owner() { if [ "$DESKTOP" = 1 ]; then echo "$DESKTOP_USER"; else echo "$USER_NAME"; fi; }
dropin_dir() {
    if [ "$DESKTOP" = 1 ]; then echo "/etc/systemd/user/$DESKTOP_UNIT.d"; else echo "/etc/systemd/system/$UNIT.d"; fi
}

# --web: network for the web pages, but only the booth's own networks. IPAddressAllow= wins over the
# unit's IPAddressDeny=any; the empty RestrictAddressFamilies= resets the unit's list before the new
# one (AF_NETLINK stays: SDL and libcamera read udev events through it).
WEB_DROPIN="# Made by install-pi.sh --web: the booth serves its web pages on its own network only.
[Service]
PrivateNetwork=no
IPAddressDeny=any
IPAddressAllow=localhost link-local 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7
RestrictAddressFamilies=
RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6"

web_setup() {
    local dropin
    dropin=$(dropin_dir)
    if [ "$WEB" = 0 ]; then
        step rm -f "$dropin/web.conf"   # an earlier --web install: back to no network at all
        return
    fi
    write_file "$dropin/web.conf" 0644 "$WEB_DROPIN"
    # The config may now hold [web] admin_token: readable by the booth, not by every local user.
    local group
    group=$(id -gn "$(booth_owner)" 2>/dev/null || booth_owner)
    step chown "root:$group" "$CONF_DIR/config.toml"
    step chmod 0640 "$CONF_DIR/config.toml"
    local host
    host=$(booth_setting c.web.host) || exit 1
    case "$host" in
        127.*|::1|localhost) echo "install-pi: [web] host = $host: only this Pi can open the pages; set host = \"0.0.0.0\" in $CONF_DIR/config.toml for phones on the booth's Wi-Fi" ;;
    esac
}

apt_packages() {
    if [ -z "$OFFLINE" ]; then
        step apt-get update
        # shellcheck disable=SC2086
        step env DEBIAN_FRONTEND=noninteractive apt-get install -y $APT_PACKAGES
        return
    fi
    local missing=() p
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} = 0 ] || fail "offline install needs these apt packages first: ${missing[*]} (sudo apt install them where there is internet)"
}

install_booth() {
    local captures
    captures=$(captures_dir) || exit 1   # a broken config stops us before any change
    apt_packages
    if ! id "$USER_NAME" >/dev/null 2>&1; then
        step useradd --system --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
    fi
    for group in video render input gpio; do
        if getent group "$group" >/dev/null; then step usermod -aG "$group" "$USER_NAME"; fi
    done
    step install -d -m 0755 -o root -g root "$PREFIX"
    if [ -d "$PREFIX/kiosk" ]; then  # an older install kept a copy of the source tree here
        step find "$PREFIX" -mindepth 1 -maxdepth 1 ! -name .venv -exec rm -rf {} +
    fi
    # --system-site-packages: apt's picamera2/libcamera are not on PyPI (docs/platform.md).
    if [ ! -x "$PREFIX/.venv/bin/python" ]; then step python3 -m venv --system-site-packages "$PREFIX/.venv"; fi
    local py=$PREFIX/.venv/bin/python
    # Exactly the locked versions, each checked against its hash.
    step "$py" -m pip install --require-hashes --no-deps "${PIP_SOURCE[@]}" -r "$LOCK"
    # The booth itself as a wheel, built from a clean copy (nothing written into this checkout).
    WORK=$(mktemp -d /tmp/faceeva-install.XXXXXX)
    trap 'rm -rf "$WORK"' EXIT
    local work=$WORK
    step tar -C "$SRC" --exclude=.git --exclude=.venv --exclude=build --exclude='*.egg-info' \
        --exclude=models/checkpoint.pt --exclude=__pycache__ -cf "$work/src.tar" .
    step mkdir -p "$work/src"
    step tar -C "$work/src" -xf "$work/src.tar"
    step "$py" -m pip wheel --no-deps --no-build-isolation --no-index -w "$work/wheel" "$work/src"
    step "$py" -m pip install --no-deps --no-index --force-reinstall --find-links "$work/wheel" faceeva-kiosk
    step install -m 0644 "$SRC/README.md" "$PREFIX/README.md"
    step install -d -m 0755 "$CONF_DIR"
    if [ ! -f "$CONF_DIR/config.toml" ]; then step install -m 0644 "$SRC/config.toml" "$CONF_DIR/config.toml"; fi
    captures_setup "$captures"
    web_setup
    if [ "$DESKTOP" = 1 ]; then
        step install -m 0644 "$SRC/systemd/$DESKTOP_UNIT" "/etc/systemd/user/$DESKTOP_UNIT"
        # Enabled for the desktop user only (what `systemctl --user enable` does), not for every user.
        local home wants
        home=$(getent passwd "$DESKTOP_USER" | cut -d: -f6) || true
        [ -n "$home" ] || { [ "$DRY" = 1 ] && home=/home/$DESKTOP_USER; } || fail "no user $DESKTOP_USER: set DESKTOP_USER"
        wants=$home/.config/systemd/user/graphical-session.target.wants
        step install -d -o "$DESKTOP_USER" -g "$(id -gn "$DESKTOP_USER" 2>/dev/null || echo "$DESKTOP_USER")" \
            "$home/.config" "$home/.config/systemd" "$home/.config/systemd/user" "$wants"
        step ln -sfn "/etc/systemd/user/$DESKTOP_UNIT" "$wants/$DESKTOP_UNIT"
        echo "install-pi: the booth starts with $DESKTOP_USER's next desktop session (or log out and in)"
    else
        step install -m 0644 "$SRC/systemd/$UNIT" "/etc/systemd/system/$UNIT"
        step systemctl daemon-reload
        step systemctl enable "$UNIT"
        step systemctl restart "$UNIT"
    fi
    echo "install-pi: done. Check it with: $PREFIX/.venv/bin/kiosk check"
}

uninstall_booth() {
    local captures=""
    if [ "$PURGE" = 1 ]; then captures=$(captures_dir 2>/dev/null) || captures=""; fi
    if systemctl list-unit-files "$UNIT" >/dev/null 2>&1; then
        step systemctl disable --now "$UNIT" || true
    fi
    step rm -f "/etc/systemd/system/$UNIT" "/etc/systemd/user/$DESKTOP_UNIT"
    step rm -rf "/etc/systemd/system/$UNIT.d" "/etc/systemd/user/$DESKTOP_UNIT.d"
    local home
    home=$(getent passwd "$DESKTOP_USER" | cut -d: -f6) || true
    if [ -n "$home" ]; then
        step rm -f "$home/.config/systemd/user/graphical-session.target.wants/$DESKTOP_UNIT"
    fi
    step systemctl daemon-reload
    step rm -rf "$PREFIX"
    if [ "$PURGE" = 1 ]; then
        if [ -n "$captures" ] && [ -d "$captures" ]; then
            # Only the booth's own files, then the folder if that left it empty: never rm -rf a path from a config.
            step find "$captures" -maxdepth 1 -type f -name 'capture-*.jpg' -delete
            step rmdir --ignore-fail-on-non-empty "$captures"
        fi
        step rm -rf "$CONF_DIR"
        if id "$USER_NAME" >/dev/null 2>&1; then step userdel "$USER_NAME"; fi
    else
        echo "install-pi: kept $CONF_DIR/config.toml and any saved captures (add --purge to remove them and the $USER_NAME user)"
    fi
}

if [ "$MODE" = install ]; then install_booth; else uninstall_booth; fi
