#!/bin/sh
# Starts the release binary the way a user would after copying it somewhere: alone in an
# empty directory, run from there. Its data and the master-key file live elsewhere.
set -eu
port="$1"
root="$(cd "$(dirname "$0")" && pwd)"
tmp="$root/.tmp"
rm -rf "$tmp"
mkdir -p "$tmp/run"
mkdir -p -m 700 "$tmp/data"
cp "$root/../target/release/hearth" "$tmp/run/hearth"
printf '%s\n' "$E2E_MASTER_KEY" > "$tmp/master.keys"
cd "$tmp/run"
exec ./hearth --port "$port" --data-dir "$tmp/data" --api-key-file "$tmp/master.keys"
