#!/usr/bin/env bash
# Build the GodeX image from the work tree, with no registry:
#   scripts/build_image.sh [BASE_IMAGE]
# BASE_IMAGE is any image with python3 3.11; without one, a local Debian base (godex-base:local) is
# imported once from scripts/debian_rootfs.sh's debootstrap root file system.
# The dependency wheels are built on the host (`pip wheel`, in the project venv) and copied in.
#   IMAGE=godex:local          tag of the result
#   PLATFORMS=linux/amd64,linux/arm64
#                              build with buildx for those platforms instead of the classic builder
#                              (needs the buildx plugin and a multi-arch BASE_IMAGE; writes an OCI
#                              archive to build/docker/godex.oci.tar, since a multi-platform result
#                              cannot be loaded into the local image store)
set -euo pipefail
cd "$(dirname "$0")/.."
image="${IMAGE:-godex:local}"
base="${1:-}"

if [[ -z "$base" ]]; then
  base="godex-base:local"
  if ! docker image inspect "$base" >/dev/null 2>&1; then
    rootfs="$(bash scripts/debian_rootfs.sh)"
    echo "importing $rootfs as $base" >&2
    tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
  fi
fi

venv="$("${PYTHON:-python3}" scripts/bootstrap.py)"
py="$venv/bin/python"
wheels=build/docker/wheels
rm -rf "$wheels"
mkdir -p "$wheels"
pipq=(-q --disable-pip-version-check)
"$py" -m pip wheel "${pipq[@]}" --wheel-dir "$wheels" .
rm -f "$wheels"/godex-*.whl          # stage 1 of the Dockerfile builds GodeX's own wheel
"$py" -m pip download "${pipq[@]}" --only-binary=:all: --dest "$wheels" pip "setuptools>=68" wheel

if [[ -n "${PLATFORMS:-}" ]]; then
  # The host's wheels fit linux/amd64 only: fetch the same versions built for arm64.
  pins=()
  for whl in "$wheels"/*.whl; do
    name="$(basename "$whl")"
    [[ "$name" == *-none-any.whl ]] && continue
    IFS=- read -r dist version _ <<<"$name"
    pins+=("$dist==$version")
  done
  if ((${#pins[@]})); then
    "$py" -m pip download "${pipq[@]}" --only-binary=:all: --no-deps --dest "$wheels" \
      --python-version 3.11 --implementation cp \
      --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 \
      --platform manylinux_2_17_aarch64 "${pins[@]}"
  fi
  mkdir -p build/docker
  docker buildx build --platform "$PLATFORMS" --network host --build-arg "BASE_IMAGE=$base" \
    --output "type=oci,dest=build/docker/godex.oci.tar" -t "$image" .
  echo "build/docker/godex.oci.tar"
else
  # The classic builder; host networking so a base that wants the network has the host's.
  DOCKER_BUILDKIT=0 docker build -q --network host --build-arg "BASE_IMAGE=$base" -t "$image" . \
    >/dev/null
  # The classic builder keeps the first stage, and an earlier image the tag moved off, as untagged
  # images: drop those (only untagged ones carrying the Dockerfile's label).
  docker image prune -f --filter label=org.godex.build >/dev/null
  echo "$image"
fi
