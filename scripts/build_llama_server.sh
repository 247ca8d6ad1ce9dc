#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the sources vendored in the llama-cpp-python sdist of the
# version installed in the venv, so the server and the in-process engine run the same llama.cpp.
#
#   scripts/build_llama_server.sh [OUT]    (default build/llama-server; the binary: OUT/bin)
#
# The sdist comes from the package registry (pip's cache after the first time). CMAKE_ARGS is
# passed on as for llama-cpp-python (e.g. -DGGML_CUDA=on). The build is native, like the
# in-process one; on CPUs where llama.cpp's extra weight buffers crash (AMX), `agentlab
# serve-model` starts the server with --no-repack, as the in-process engine turns them off.
# LLAMA_USE_PREBUILT_UI=OFF: otherwise the configure step downloads a web UI.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
out="${1:-$root/build/llama-server}"
version="$("$python" -c 'import llama_cpp; print(llama_cpp.__version__)')"

if [ -x "$out/bin/llama-server" ] && [ "$(cat "$out/version" 2>/dev/null)" = "$version" ]; then
    echo "llama-server $version is built: $out/bin/llama-server"
    exit 0
fi

mkdir -p "$out/sdist"
"$python" -m pip download --quiet --no-binary :all: --no-deps \
    "llama-cpp-python==$version" -d "$out/sdist"
rm -rf "$out/sdist/llama_cpp_python-$version"
tar -xzf "$out/sdist/llama_cpp_python-$version.tar.gz" -C "$out/sdist"
source="$out/sdist/llama_cpp_python-$version/vendor/llama.cpp"

# shellcheck disable=SC2086  # CMAKE_ARGS holds several flags
cmake -S "$source" -B "$out/cmake" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${CMAKE_ARGS:-}
cmake --build "$out/cmake" --config Release -t llama-server -j "${JOBS:-$(nproc)}"

mkdir -p "$out/bin"
cp "$out/cmake/bin/llama-server" "$out/bin/llama-server"
echo "$version" > "$out/version"
echo "llama-server $version is built: $out/bin/llama-server"
