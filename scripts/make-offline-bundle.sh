#!/usr/bin/env bash
# Downloads everything pip installs on the Pi into a wheelhouse, so a booth can be installed at a
# venue with no internet:   scripts/make-offline-bundle.sh DIR [bookworm|trixie ...]   (default: both)
# Then copy DIR and this checkout to the Pi and run:   sudo scripts/install-pi.sh --offline DIR
# Runs on any machine with Python and pip (x86 too): it fetches the aarch64 wheels named in
# requirements/<codename>-aarch64.txt, checked against the lock's hashes. apt packages are not
# bundled: the installer says which ones are missing (Pi OS images ship most of them).
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,7p' "$0" >&2; exit 2; }
dest=$1; shift
SRC=$(cd "$(dirname "$0")/.." && pwd)
PIP=${PIP:-python3 -m pip}
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=(bookworm trixie)
# Pi OS Bookworm has glibc 2.36, Trixie 2.41: every manylinux tag up to that is installable there.
platforms=$(for n in 17 24 27 28 31 34 35 36; do printf -- '--platform manylinux_2_%s_aarch64 ' "$n"; done)
for codename in "${targets[@]}"; do
    case "$codename" in
        bookworm) py=311 ;;
        trixie) py=313; platforms+=" --platform manylinux_2_38_aarch64 --platform manylinux_2_39_aarch64" ;;
        *) echo "make-offline-bundle: unknown target $codename (bookworm or trixie)" >&2; exit 2 ;;
    esac
    lock=$SRC/requirements/$codename-aarch64.txt
    mkdir -p "$dest/$codename"
    # shellcheck disable=SC2086
    $PIP download --quiet --no-deps --only-binary=:all: --require-hashes --implementation cp --python-version "$py" \
        --platform manylinux2014_aarch64 $platforms --platform linux_aarch64 -d "$dest/$codename" -r "$lock"
    cp "$lock" "$dest/$codename/"
    echo "make-offline-bundle: $dest/$codename: $(ls "$dest/$codename" | grep -c '\.whl$') wheels for $codename (cp$py, aarch64)"
done
