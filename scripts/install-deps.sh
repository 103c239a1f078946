#!/usr/bin/env bash
# Installs the Debian packages NasCluster needs, if missing:
#   install-deps.sh            what searches need (dataset-fashion-mnist; wordnet-base, the NLP proxy's corpus)
#   install-deps.sh test       also what the tests need (postgresql; Debian's Python with torch/torchvision
#                              to export ONNX models, onnx, grpcio/grpc-tools/optuna as outside clients,
#                              chromium and chromium-driver for the report and dashboard tests)
#   install-deps.sh PACKAGE…   exactly these
# Needs root (CI runs as root) or passwordless sudo when something is missing; does nothing when all is present.
set -euo pipefail
case "${1:-}" in
  "") packages=(dataset-fashion-mnist wordnet-base) ;;
  test) packages=(dataset-fashion-mnist wordnet-base postgresql python3 python3-torch python3-torchvision python3-pil python3-onnx python3-grpcio python3-grpc-tools python3-optuna chromium chromium-driver) ;;
  *) packages=("$@") ;;
esac
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
