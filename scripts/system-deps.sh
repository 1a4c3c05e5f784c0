#!/usr/bin/env bash
# Install the Debian packages the full test suite needs, only when missing:
# PostGIS for PostgreSQL 15 (the PostGIS tests run for real) and Chromium with its
# driver (the map pages are checked in a real headless browser); Redis (rate limits
# shared by workers are tested against a real server); wrk for the HTTP benchmark.
set -euo pipefail

need=()
[ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
# wrk drives the HTTP benchmark (make bench); the benchmark falls back to a slower
# Python client without it.
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# redis-server: the shared store of rate-limit counters is tested against a real one.
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
# A CJK font so that map screenshots show Chinese names (the pages themselves need none).
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)

if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps: missing ${need[*]}; run as root or: sudo apt-get install ${need[*]}" >&2
    exit 1
fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
