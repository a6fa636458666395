#!/usr/bin/env bash
# Prints the path of a Chromium binary for the inspector's browser test, installing Debian's
# `chromium` package first when none is found (as root, or through sudo without a password).
# Exits non-zero, with the reason on stderr, when no browser can be found or installed.
set -euo pipefail

find_chromium() {
    local name
    for name in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}

if find_chromium; then
    exit 0
fi

if [ "$EUID" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "chromium.sh: no chromium found, and installing it needs root" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: no chromium found, and no apt-get to install it with" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "chromium.sh: installing Debian's chromium package" >&2
# The package lists may be missing or stale (a fresh container): update once if the first
# attempt fails.
if ! "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium >&2; then
    "${as_root[@]}" apt-get update -q >&2
    "${as_root[@]}" apt-get install -y -q --no-install-recommends chromium >&2
fi

if find_chromium; then
    exit 0
fi
echo "chromium.sh: the chromium package installed no chromium binary" >&2
exit 1
