#!/usr/bin/env bash
# Checks (with PyPI, no install) that every runtime dependency, with pyproject.toml's markers,
# has a binary wheel for 64-bit Raspberry Pi OS: Bookworm (Python 3.11) and Trixie (Python 3.13).
set -euo pipefail
PIP=${PIP:-python3 -m pip}
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
platforms=$(for n in 17 27 28 31 34 35 36; do printf -- '--platform manylinux_2_%s_aarch64 ' "$n"; done)
status=0
for py in 311 313; do
    if [ "$py" = 311 ]; then extra=("numpy>=1.24,<2" "opencv-python-headless>=4.8,<4.12")
    else extra=("numpy>=2,<3" "opencv-python-headless>=4.12,<5"); fi
    for req in "${extra[@]}" "ai-edge-litert>=2.0,<3" "pygame-ce>=2.5,<3" "pillow>=9" \
               "starlette>=0.46,<2" "uvicorn>=0.30,<1" "segno>=1.6,<2"; do
        # shellcheck disable=SC2086
        if $PIP download -q --no-deps --only-binary=:all: --python-version "$py" --implementation cp \
                $platforms --platform manylinux2014_aarch64 -d "$dest/$py" "$req" >/dev/null 2>&1; then
            echo "ok    cp$py aarch64  $req -> $(ls -t "$dest/$py" | head -n1)"
        else
            echo "MISSING cp$py aarch64  $req"; status=1
        fi
    done
done
exit $status
