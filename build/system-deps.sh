#!/usr/bin/env bash
# Installs the system packages Keyhold's tests and demo need on Debian/Ubuntu:
# SoftHSM2 (a real PKCS#11 token), OpenSC (pkcs11-tool, an independent PKCS#11
# client), Chromium (the renderer's e2e browser), poppler-utils (pdftotext reads
# the ceremony transcript back), zbar-tools (zbarimg decodes the QR codes) and a
# C/C++ toolchain for the native Node modules. Idempotent: packages already present are not reinstalled.
set -euo pipefail

packages=(softhsm2 opensc chromium poppler-utils zbar-tools python3 make g++ ca-certificates)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "system-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi

echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
