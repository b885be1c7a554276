#!/usr/bin/env bash
# One command from a fresh clone to a built `fedkseed`: system packages, LibTorch (the
# PyPI torch==2.11.0 wheel in .venv/), configure and build. Idempotent: a second run only
# rebuilds what changed.
#
#   scripts/setup.sh                 install what is missing, build into build/
#   scripts/setup.sh --test          also install the test-only Python packages
#   scripts/setup.sh --offline DIR   no registry at all: unpack the .deb files in DIR into
#                                    DIR/prefix and build against an existing torch
#                                    (PYTHON=/path/to/python with torch 2.11 importable)
# Environment: BUILD_DIR (default build), FEDKSEED_CUDA (AUTO|ON|OFF), FEDKSEED_CUDA_ARCHS
# (default 90), JOBS (default: number of cores), SETUP_TARGET (build only this target, e.g.
# fedkseed without the tests).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
offline_dir=""
with_test_packages=0
while [ $# -gt 0 ]; do
  case "$1" in
    --test) with_test_packages=1 ;;
    --offline) offline_dir=${2:?--offline needs a folder of .deb files}; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "[setup] $*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

torch_version=2.11.0
debian_packages=(cmake g++ python3-venv ccache libsentencepiece-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libgtest-dev libgloo-dev libpcre2-dev libutf8proc-dev)

install_system_packages() {
  local missing=()
  for package in "${debian_packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return
  say "apt-get install ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The wheel's libtorch_cuda links cuDNN, NCCL, cuBLAS...: a machine with the CUDA 13
# toolkit already has them, so only three small wheels are missing and the 4 GB of
# nvidia-* wheels are skipped. Elsewhere the full dependency set is installed.
install_torch() {
  local python=.venv/bin/python
  [ -x "$python" ] || python3 -m venv .venv
  if [ -f .venv/.torch-$torch_version ]; then return; fi
  "$python" -m pip install -q --upgrade pip
  if [ -e /usr/local/cuda/lib64/libcudart.so.13 ] || ldconfig -p | grep -q 'libcudart.so.13 '; then
    say "CUDA 13 toolkit found: lean torch install (--no-deps + 3 CUDA wheels)"
    "$python" -m pip install -q --no-deps "torch==$torch_version" nvidia-cufile==1.15.1.6 \
      nvidia-cusparselt-cu13==0.8.0 nvidia-nvshmem-cu13==3.4.5
    "$python" -m pip install -q --no-warn-conflicts filelock 'typing-extensions>=4.10' sympy networkx jinja2 fsspec numpy
  else
    say "no CUDA 13 toolkit: full torch install with its nvidia-* wheels (~4.6 GB)"
    "$python" -m pip install -q "torch==$torch_version" numpy
  fi
  touch .venv/.torch-$torch_version
}

install_test_packages() {
  local packages="transformers==5.17.0 tokenizers==0.23.3 rouge==1.0.1 sentencepiece safetensors protobuf matplotlib
    dp-accounting==0.6.0"
  # The marker names the list, so a venv made before a package joined it gets that package.
  local marker=.venv/.test-packages-$(echo $packages | cksum | cut -d' ' -f1)
  [ -f "$marker" ] && return
  say "pip install test-only packages ($(echo $packages))"
  # shellcheck disable=SC2086  # one word a package
  .venv/bin/python -m pip install -q --no-warn-conflicts $packages
  touch "$marker"
}

unpack_debs() {
  local prefix="$offline_dir/prefix"
  if [ ! -f "$prefix/.unpacked" ]; then
    say "unpacking $(ls "$offline_dir"/*.deb | wc -l) .deb files into $prefix" >&2  # stdout is the prefix
    for deb in "$offline_dir"/*.deb; do dpkg -x "$deb" "$prefix"; done
    touch "$prefix/.unpacked"
  fi
  echo "$prefix"
}

cmake_args=()
if [ -n "$offline_dir" ]; then
  offline_dir=$(cd "$offline_dir" && pwd)
  python=${PYTHON:-python3}
  prefix=$(unpack_debs)
  cmake_args+=("-DFEDKSEED_DEPS_PREFIX=$prefix")
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
  install_system_packages
  install_torch
  [ $with_test_packages -eq 1 ] && install_test_packages
  python=$root/.venv/bin/python
fi

torch_cmake=$("$python" - <<'EOF'
import importlib.util, os
spec = importlib.util.find_spec("torch")
print(os.path.join(spec.submodule_search_locations[0], "share", "cmake"))
EOF
)
say "LibTorch CMake files: $torch_cmake"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_cmake" \
  -DPython_EXECUTABLE="$python" -DFEDKSEED_PYTHON="$python" \
  -DFEDKSEED_CUDA="${FEDKSEED_CUDA:-AUTO}" -DFEDKSEED_CUDA_ARCHS="${FEDKSEED_CUDA_ARCHS:-90}" \
  "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs" ${SETUP_TARGET:+--target "$SETUP_TARGET"}
say "built $build_dir/fedkseed"
