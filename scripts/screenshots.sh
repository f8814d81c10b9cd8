#!/bin/sh
# The README's booth screenshots, regenerated from the demo scene with the real models and fonts:
# landscape 1920x1080 and portrait 1080x1920, Korean and English, and a branded idle screen.
# Usage: scripts/screenshots.sh [OUT_DIR]   (default docs/screenshots; about a minute per picture)
set -eu
cd "$(dirname "$0")/.."
out=${1:-docs/screenshots}
kiosk=".venv/bin/kiosk"
mkdir -p "$out"
for state in idle live hint countdown result result-long-text paused; do
    $kiosk screenshot --state "$state" --out "$out/$state.png"
done
for state in idle live result; do
    $kiosk screenshot --state "$state" --lang en --out "$out/en-$state.png"
    $kiosk screenshot --state "$state" --portrait --out "$out/portrait-$state.png"
done
$kiosk screenshot --state result --portrait --lang en --out "$out/portrait-en-result.png"
# The result with its take-home QR code ([web] takeaway).
$kiosk screenshot --state takeaway --out "$out/result-takeaway.png"
# Event branding: docs/example-brand.toml names docs/example-logo.png beside it.
$kiosk --config docs/example-brand.toml screenshot --state idle --out "$out/brand-idle.png"
$kiosk --config docs/example-brand.toml screenshot --state result --out "$out/brand-result.png"
