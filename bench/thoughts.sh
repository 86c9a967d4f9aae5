#!/usr/bin/env bash
# A post with 100 thoughts in two levels, cached and uncached, against nginx serving the same
# bytes in the same run. Usage: bash bench/thoughts.sh (same env as bench/pages.sh)
set -euo pipefail
THOUGHTS=${THOUGHTS:-100} exec bash "$(dirname "$0")/pages.sh"
