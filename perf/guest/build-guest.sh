#!/usr/bin/env bash
# Builds a tiny Linux guest for pagewire's vhost-user backend: Debian's cloud kernel (its own virtio_net driver, loaded
# as a module) and a busybox initramfs whose /init configures eth0, runs a workload named on the kernel command line and
# prints parseable PW-* lines on the serial console, then powers off. Idempotent: everything lands in a cache directory
# (default perf/guest/target, gitignored) and a second run only checks that the outputs exist.
#
#   perf/guest/build-guest.sh            # prints the cache directory on its last line
#   PW_GUEST_DIR=/some/dir perf/guest/build-guest.sh
#
# Needs root with apt-get on a fresh Debian machine (installs qemu-system-x86, busybox-static, cpio); downloads the
# kernel and iperf3 packages with `apt-get download` (no install). Boot it with perf/guest/run-guest.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${PW_GUEST_DIR:-$here/target}
mkdir -p "$out"
out=$(cd "$out" && pwd)

log() { echo "build-guest: $*" >&2; }

fingerprint() { cat "$here/build-guest.sh" "$here/init" | sha1sum | cut -d' ' -f1; }
if [ -f "$out/vmlinuz" ] && [ -f "$out/initramfs.cpio.gz" ] && [ -f "$out/stamp" ] && \
   [ "$(cat "$out/stamp")" = "$(fingerprint)" ] && command -v qemu-system-x86_64 >/dev/null; then
  echo "$out"
  exit 0
fi

# --- host tools ---------------------------------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || need+=(qemu-system-x86)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v cpio >/dev/null 2>&1 || need+=(cpio)
command -v xz >/dev/null 2>&1 || need+=(xz-utils)
command -v zstd >/dev/null 2>&1 || need+=(zstd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "missing ${need[*]} and cannot install them (not root or no apt-get)"
    exit 2
  fi
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
busybox=/bin/busybox
[ -x "$busybox" ] || busybox=/usr/bin/busybox
# busybox-static's binary: must not need a dynamic loader inside the initramfs.
if ldd "$busybox" >/dev/null 2>&1; then
  log "$busybox is dynamically linked; need busybox-static"
  exit 2
fi

# --- packages: the cloud kernel (current version behind the meta package) and iperf3 with its libraries ----------
debs="$out/debs"
mkdir -p "$debs"
resolve_kernel() { apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}'; }
download() # the kernel, iperf3 and its libraries, unless already in $debs
{
  (
    cd "$debs"
    for p in "$kpkg" iperf3 libiperf0 libsctp1 libssl3; do
      ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download -qq "$p" >/dev/null 2>&1 || return 1
    done
  )
}
kpkg=$(resolve_kernel)
if [ -z "$kpkg" ] || ! download; then
  # No or stale package lists (a fresh machine): refresh once and retry.
  log "refreshing package lists"
  apt-get update -qq
  kpkg=$(resolve_kernel)
  [ -n "$kpkg" ] || { log "cannot resolve linux-image-cloud-amd64 to a kernel package"; exit 1; }
  download || { log "apt-get download failed for $kpkg iperf3 libiperf0 libsctp1 libssl3"; exit 1; }
fi
x="$out/extract"
rm -rf "$x"
mkdir -p "$x"
for d in "$debs"/*.deb; do
  dpkg-deb -x "$d" "$x"
done
kver=$(basename "$(ls -d "$x"/lib/modules/*/ | head -n 1)")
log "kernel $kpkg ($kver)"

# --- initramfs tree ------------------------------------------------------------------------------------------------
root="$out/root"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc,lib64,lib/x86_64-linux-gnu,"lib/modules/$kver"}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done

# Modules: the closure of virtio_pci and virtio_net per modules.dep (busybox depmod writes it), decompressed if the
# kernel ships .ko.xz/.ko.zst, loaded by /init in dependency order (deps first, as modules.dep names them).
kmods="$x/lib/modules/$kver"
find "$kmods" -name '*.ko.xz' -exec xz -d -f {} +
find "$kmods" -name '*.ko.zst' -exec zstd -q -d --rm -f {} +
"$busybox" depmod -b "$x" "$kver"
order=()
add_module() # relative path; appends its deps first, then itself
{
  local m=$1 line dep
  for o in "${order[@]:-}"; do [ "$o" = "$m" ] && return 0; done
  line=$(grep -E "^$m:" "$kmods/modules.dep" || true)
  [ -n "$line" ] || { log "module $m not in modules.dep"; exit 2; }
  # modules.dep lists a module's deps so that the last one must load first.
  local deps=(${line#*:})
  local i
  for ((i = ${#deps[@]} - 1; i >= 0; i--)); do add_module "${deps[$i]}"; done
  order+=("$m")
}
for name in virtio_pci virtio_net; do
  rel=$(grep -oE "^[^:]*/$name\.ko:" "$kmods/modules.dep" | head -n 1)
  if [ -z "$rel" ]; then
    if grep -q "/$name.ko$" "$kmods/modules.builtin"; then continue; fi
    log "no $name module in $kver"; exit 2
  fi
  add_module "${rel%:}"
done
: > "$root/etc/modules"
for m in "${order[@]}"; do
  cp "$kmods/$m" "$root/lib/modules/$kver/"
  echo "$(basename "$m")" >> "$root/etc/modules"
done
log "modules: $(tr '\n' ' ' < "$root/etc/modules")"

# iperf3 and the shared libraries it needs: the deb's own, the rest from this Debian host (same release).
cp "$x/usr/bin/iperf3" "$root/usr/bin/iperf3"
copy_libs()
{
  LD_LIBRARY_PATH="$x/usr/lib/x86_64-linux-gnu" ldd "$1" | awk '/=>/ {print $3} /ld-linux/ {print $1}' |
    while read -r lib; do
      [ -f "$lib" ] || continue
      case "$lib" in
        /lib64/*) cp -L "$lib" "$root/lib64/" ;;
        *) cp -L "$lib" "$root/lib/x86_64-linux-gnu/" ;;
      esac
    done
}
copy_libs "$root/usr/bin/iperf3"
if LD_LIBRARY_PATH="$x/usr/lib/x86_64-linux-gnu" ldd "$root/usr/bin/iperf3" | grep -q 'not found'; then
  log "iperf3 in the guest lacks libraries:"; LD_LIBRARY_PATH="$x/usr/lib/x86_64-linux-gnu" ldd "$root/usr/bin/iperf3" >&2
  exit 1
fi
echo "127.0.0.1 localhost" > "$root/etc/hosts"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"

cp "$here/init" "$root/init"
chmod 755 "$root/init"

# --- outputs -------------------------------------------------------------------------------------------------------
cp "$x/boot/vmlinuz-$kver" "$out/vmlinuz"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$kver" > "$out/kernel-version"
rm -rf "$x"
fingerprint > "$out/stamp"
log "built $out/vmlinuz and $out/initramfs.cpio.gz ($(du -h "$out/initramfs.cpio.gz" | cut -f1))"
echo "$out"
