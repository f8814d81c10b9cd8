#!/usr/bin/env bash
# Regenerates the Pi lock files from pyproject.toml: every package the booth installs, pinned with
# hashes, resolved for the target (aarch64 Linux, its Python), not for the machine running this:
#   requirements/bookworm-aarch64.txt   Pi OS Bookworm 64-bit, Python 3.11
#   requirements/trixie-aarch64.txt     Pi OS Trixie 64-bit, Python 3.13
# uv evaluates pyproject's markers (numpy < 2 on 3.11, OpenCV 4.12+ on 3.13) for that target
# (docs/platform.md). Needs uv (pip install '.[lock]') and PyPI. install-pi.sh installs from these
# with --require-hashes; scripts/make-offline-bundle.sh downloads exactly these files.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-$(command -v uv || echo .venv/bin/uv)}
mkdir -p requirements
for target in bookworm:3.11 trixie:3.13; do
    name=${target%%:*} python=${target##*:}
    "$UV" pip compile pyproject.toml --quiet --python-platform aarch64-unknown-linux-gnu --python-version "$python" \
        --generate-hashes --constraint requirements/constraints.txt --custom-compile-command "scripts/lock.sh" -o "requirements/$name-aarch64.txt"
    echo "lock: requirements/$name-aarch64.txt ($(grep -c '^[a-z]' "requirements/$name-aarch64.txt") packages, Python $python, aarch64)"
done
