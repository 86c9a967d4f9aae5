#!/usr/bin/env bash
# Runs every test Colloquy has: unit and integration tests (SQLite and PostgreSQL, real HTTP)
# with cargo-nextest, then the browser test in headless Chromium (with axe-core).
# Tests that need PostgreSQL, Node or Chromium skip loudly when those are missing; with
# COLLOQUY_REQUIRE_SERVICES=1 (as CI sets it) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# The sign-in tests talk to a real OpenID Connect provider (oidc-provider, from npm).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/oidc/node_modules/oidc-provider ]; then
  (cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast

# The strict feed checker's own fixtures (good feeds pass, each bad one fails for its reason).
bash tests/feeds/selftest.sh

if [ -f tests/browser/run.sh ]; then
  bash tests/browser/run.sh "${CARGO_TARGET_DIR:-target}/debug/colloquy"
fi
