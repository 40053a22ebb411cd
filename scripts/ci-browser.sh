#!/usr/bin/env bash
# Install what the browser tests (tests/web) need, when it is missing, and do nothing otherwise.
#
#   scripts/ci-browser.sh            # Debian's chromium + chromium-driver, then axe-core (npm ci)
#
# * Chromium comes from Debian's packages (/usr/bin/chromium, /usr/bin/chromedriver). A browser that
#   a test tool downloads by itself (`playwright install`) cannot be fetched here, so the tests drive
#   this one (Playwright's executable_path). `apt-get update` runs only when apt does not know the
#   package yet.
# * axe-core is pinned in tests/web/node/package-lock.json and installed by `npm ci` into
#   tests/web/node/node_modules, again only when that tree is missing or older than the lockfile.
# * Playwright for Python is a pinned dev dependency (requirements.lock), installed with the venv.
#
# Progress goes to stderr. Exit status 0 when everything is in place. Set PAINPATH_SKIP_BROWSER_SETUP=1
# to do nothing (the browser tests then fail under CI=true, or skip locally, if something is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "ci-browser: $*" >&2; }

if [ "${PAINPATH_SKIP_BROWSER_SETUP:-0}" = "1" ]; then
  log "PAINPATH_SKIP_BROWSER_SETUP=1: not installing anything"
  exit 0
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    log "need root (or sudo) to run: $*"; return 1; fi
}

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  if ! apt-cache show chromium chromium-driver >/dev/null 2>&1; then
    log "apt does not know chromium yet; running apt-get update"
    as_root apt-get update -qq >&2
  fi
  log "installing Debian's chromium and chromium-driver"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium chromium-driver >&2
fi

NODE_DIR=tests/web/node
if ! command -v npm >/dev/null; then
  log "npm not found; installing Debian's npm"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >&2
fi
AXE="$NODE_DIR/node_modules/axe-core/axe.min.js"
if [ ! -f "$AXE" ] || [ "$NODE_DIR/package-lock.json" -nt "$AXE" ]; then
  log "installing the pinned axe-core (npm ci in $NODE_DIR)"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
  touch "$AXE"
fi
log "ready: $(/usr/bin/chromium --version 2>/dev/null || echo 'chromium ?'), axe-core $(node -p "require('./$NODE_DIR/node_modules/axe-core/package.json').version")"
