#!/usr/bin/env bash
# fashion-stream.sh - Debian's Fashion-MNIST as a drifting stream in two
# stores, DATA/fashion/train and DATA/fashion/test (the construction is in
# scripts/fashion-stream.py: 12 years; original images, then their negatives
# from year 4 (abrupt), then a gradual turn by 90 degrees over years 7-9).
#   scripts/fashion-stream.sh [DATA] [--years N --train-per-year N --test-per-year N --seed S]
# DATA defaults to data/. Year y spans [y, y+1) * 365 days from timestamp 0;
# per-year counts that divide 31,536,000 give exact years (4000, 800, ...).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=data
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then data=$1; shift; fi
case " $* " in *" -h "* | *" --help "*)
  sed -n '2,8p' "$0" | cut -c3-; exit 0;;
esac
modyn=${MODYN_BIN:-$root/build/modyn}
[ -x "$modyn" ] || { echo "fashion-stream.sh: $modyn not found; build first (scripts/build.sh)" >&2; exit 1; }
train=4000 test=800
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --train-per-year) train=${args[i + 1]};;
    --test-per-year) test=${args[i + 1]};;
  esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/scripts/fashion-stream.py" --out "$tmp" "$@"
year=31536000
for split in train test; do
  per=$train; [ $split = test ] && per=$test
  rm -rf "$data/fashion/$split"
  "$modyn" ingest --format idx --images "$tmp/$split-images-idx3-ubyte" \
    --labels "$tmp/$split-labels-idx1-ubyte" --timestamp-step $((year / per)) \
    --num-classes 10 --out "$data/fashion/$split"
done
echo "stores: $data/fashion/train, $data/fashion/test"
