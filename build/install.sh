#!/usr/bin/env bash
# Everything a fresh Debian/Ubuntu machine needs for Keyhold: system packages
# (build/system-deps.sh) and the npm dependencies, pinned by package-lock.json.
# The Electron binary is not downloaded (air-gapped and CI machines cannot);
# install it separately to run the desktop app (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

bash build/system-deps.sh
export ELECTRON_SKIP_BINARY_DOWNLOAD="${ELECTRON_SKIP_BINARY_DOWNLOAD:-1}"
npm ci --no-audit --no-fund
# The bundle format (format/, keyhold-format) and the importer are TypeScript compiled to
# format/dist and importer/dist, in that order (the importer and the app import keyhold-format
# by package name), so `npx keyhold-import` works after install.
npm run build -w keyhold-format
npm run build -w keyhold-import
# The keyhold command compiled to out/cli (after keyhold-format, which it bundles), so
# `npx keyhold` starts at once after install instead of compiling TypeScript at every run.
npm run build:cli
# Electronegativity runs from a folder of its own (its pinned parser crashes among
# the project's dependencies); the test command's security gate uses it.
npm ci --prefix build/electronegativity --no-audit --no-fund
