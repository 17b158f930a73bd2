#!/usr/bin/env bash
# Build, once per machine, a plain Debian root file system with only python3 (plus ca-certificates,
# which Debian's python3 recommends, so a plain `apt-get install python3` brings it too) and print its
# path. The fresh-machine test copies it; scripts/build_image.sh imports it as the local base image.
# No python3-venv, no pip: exactly what a newcomer's machine may have.
#   GODEX_CACHE          cache directory (default ~/.cache/godex)
#   GODEX_DEBIAN_SUITE   Debian release (default bookworm, whose python3 is 3.11 like the host wheels)
#   GODEX_DEBIAN_MIRROR  mirror URL (default: debootstrap's own)
set -euo pipefail
suite="${GODEX_DEBIAN_SUITE:-bookworm}"
cache="${GODEX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/godex}"
dest="$cache/rootfs-$suite-python3"
ready() { [[ -x "$dest/usr/bin/python3" && -f "$dest/.godex-complete" ]]; }
if ready; then echo "$dest"; exit 0; fi

if ! command -v debootstrap >/dev/null; then
  echo "debootstrap is not installed (apt-get install debootstrap)" >&2
  exit 1
fi
mkdir -p "$cache"
exec 9>"$cache/.rootfs.lock"
flock 9                      # two builds at once would race on the rename below
if ready; then echo "$dest"; exit 0; fi

tmp="$(mktemp -d "$cache/.rootfs-build-XXXXXX")"
cleanup() {
  # debootstrap mounts /proc and /sys in the target and may leave them mounted when it fails:
  # unmount everything below the build dir before deleting it, and never cross into a mount.
  { grep -o " $tmp[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
    umount -l "$m" || true
  done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
echo "debootstrap $suite into $dest (about a minute, once per machine)" >&2
# shellcheck disable=SC2086
debootstrap --variant=minbase --include=python3,ca-certificates "$suite" "$tmp/root" \
  ${GODEX_DEBIAN_MIRROR:-} >"$tmp/debootstrap.log" 2>&1 || {
  tail -20 "$tmp/debootstrap.log" >&2
  exit 1
}
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*
touch "$tmp/root/.godex-complete"
rm -rf --one-file-system "$dest"
mv "$tmp/root" "$dest"
echo "$dest"
