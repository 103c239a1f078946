#!/usr/bin/env bash
# Installs the system packages the tests and the main job need, if missing. Needs root (CI runs as
# root) or passwordless sudo when something is missing; does nothing when all is present.
set -euo pipefail
packages=(dataset-fashion-mnist)   # grows with the issues that need them (postgresql, ...)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo -n"
echo "installing: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
