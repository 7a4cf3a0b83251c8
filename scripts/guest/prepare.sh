#!/usr/bin/env bash
# Builds what a virtio-fs guest boots for tests/VirtioFs.Guest.Tests and bench/vhost-bench.sh:
#   OUTDIR/vmlinuz     the kernel Debian's linux-image-amd64 points to (fetched with apt-get download, not installed)
#   OUTDIR/vmlinux     the same, decompressed (when it has a PVH entry point): QEMU boots it without running the
#                      bzImage's decompressor, which takes about 5 s under TCG; use it when it is there
#   OUTDIR/initrd.gz   busybox-static, vfs-tool (vfs-tool.c, gcc -static), the fuse/virtiofs/virtio_pci modules
#                      that the kernel does not build in (with their dependencies from modules.dep), and ./init
#   OUTDIR/kernel-release, OUTDIR/stamp
# Cached: when the kernel package, busybox and these sources are unchanged it only checks and exits; the kernel
# package stays in OUTDIR/cache, so a changed init does not download it again.
#
# usage: scripts/guest/prepare.sh [OUTDIR]   (default: artifacts/guest at the repo root)
# Needs root to install missing Debian packages; downloads the kernel package with apt (network to Debian).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/artifacts/guest}
mkdir -p "$out/cache"
out=$(cd "$out" && pwd)

source "$repo/scripts/debian-packages.sh"
ensure_debian_packages qemu-system-x86 qemu-system-common busybox-static cpio kmod gcc libc6-dev

# The kernel package that linux-image-amd64 depends on, e.g. linux-image-6.1.0-57-amd64, and its candidate version.
# apt-cache takes most of a second per call here (no binary package cache), so the answer is kept until the apt
# lists change.
resolve_kernel() {
    apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }'
}
lists=$(stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -d' ' -f1)
read -r saved_lists kpkg kver 2>/dev/null <"$out/cache/kernel-package" || true
if [[ ${saved_lists:-} != "$lists" || -z ${kver:-} ]]; then
    kpkg=$(resolve_kernel)
    if [[ -z $kpkg ]]; then
        apt-get update -qq
        lists=$(stat -c '%n %Y %s' /var/lib/apt/lists/*_Packages* 2>/dev/null | sha256sum | cut -d' ' -f1)
        kpkg=$(resolve_kernel)
    fi
    [[ -n $kpkg ]] || { echo "prepare.sh: apt-cache does not know linux-image-amd64 (no Debian apt sources?)" >&2; exit 1; }
    kver=$(apt-cache policy "$kpkg" | awk '$1 == "Candidate:" { print $2 }')
    [[ -n $kver && $kver != "(none)" ]] || { echo "prepare.sh: no installable version of $kpkg" >&2; exit 1; }
    echo "$lists $kpkg $kver" >"$out/cache/kernel-package"
fi

stamp=$( {
    echo "$kpkg $kver busybox $(dpkg-query -W -f '${Version}' busybox-static) gcc $(gcc -dumpfullversion)"
    cat "$here/prepare.sh" "$here/init" "$here/vfs-tool.c"
} | sha256sum | cut -d' ' -f1)
if [[ -f $out/vmlinuz && -f $out/initrd.gz && $(cat "$out/stamp" 2>/dev/null) == "$stamp" ]]; then
    echo "prepare.sh: $out is up to date ($kpkg $kver)"
    exit 0
fi

work=$(mktemp -d "$out/work.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- kernel package -------------------------------------------------------------------------------------------
deb=$out/cache/${kpkg}_$kver.deb
if [[ ! -f $deb ]]; then
    echo "prepare.sh: downloading $kpkg $kver"
    mkdir "$work/download"
    # apt-get download would fetch as the sandbox user _apt, which cannot write here; it is a plain file download.
    (cd "$work/download" && apt-get download -q -o APT::Sandbox::User=root "$kpkg=$kver")
    find "$out/cache" -maxdepth 1 -name '*.deb' -delete
    mv "$work"/download/*.deb "$deb"
fi
dpkg-deb -x "$deb" "$work/kernel"
vmlinuz=$(find "$work/kernel/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n 1)
[[ -n $vmlinuz ]] || { echo "prepare.sh: $deb has no /boot/vmlinuz-*" >&2; exit 1; }
release=${vmlinuz##*/vmlinuz-}
for base in "$work/kernel" "$work/kernel/usr"; do
    [[ -d $base/lib/modules/$release ]] && break
done
moddir=$base/lib/modules/$release
[[ -d $moddir ]] || { echo "prepare.sh: $deb has no modules for $release" >&2; exit 1; }
depmod -b "$base" "$release" # the package leaves modules.dep to its postinst

# --- modules: what virtiofs needs, dependencies first, unless built in ----------------------------------------
declare -A deps_of=() path_of=() loaded=()
while IFS=: read -r path deps; do
    deps_of[$path]=$deps
    name=${path##*/}
    path_of[${name%%.ko*}]=$path
done <"$moddir/modules.dep"
modules=()
add_module() { # <path in modules.dep>
    local dep
    [[ -n ${loaded[$1]:-} ]] && return 0
    loaded[$1]=1
    for dep in ${deps_of[$1]}; do add_module "$dep"; done
    modules+=("$1")
}
for name in virtio_pci fuse virtiofs; do
    if [[ -n ${path_of[$name]:-} ]]; then
        add_module "${path_of[$name]}"
    elif ! grep -q "/$name\.ko" "$moddir/modules.builtin"; then
        echo "prepare.sh: $release has no module $name, built in or not" >&2
        exit 1
    fi
done

root=$work/root
mkdir -p "$root"/{bin,dev,etc,lib/modules,mnt,proc,sys}
: >"$root/etc/vfs-modules"
for path in "${modules[@]}"; do
    name=${path##*/}
    name=${name%%.ko*}
    case $path in # busybox insmod takes plain .ko files
        *.ko) cp "$moddir/$path" "$root/lib/modules/$name.ko" ;;
        *.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
        *.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
        *.ko.gz) gzip -dc "$moddir/$path" >"$root/lib/modules/$name.ko" ;;
        *) echo "prepare.sh: unexpected module file $path" >&2; exit 1 ;;
    esac
    echo "$name" >>"$root/etc/vfs-modules"
done

# --- uncompressed kernel for PVH boot -----------------------------------------------------------------------------
extract_vmlinux() { # <bzImage> <output>: tries each compressed payload's magic (xz, zstd, gzip) until one yields an ELF
    local magic offset
    local -a tool
    for magic in $'\xfd7zXZ' $'\x28\xb5\x2f\xfd' $'\x1f\x8b\x08'; do
        case $magic in
            $'\xfd7zXZ') tool=(xz -dc --single-stream) ;;
            $'\x28\xb5\x2f\xfd') tool=(zstd -qdc) ;;
            *) tool=(gzip -dc) ;;
        esac
        for offset in $(LC_ALL=C grep -aboF "$magic" "$1" | cut -d: -f1 | head -n 5); do
            tail -c +$((offset + 1)) "$1" | "${tool[@]}" >"$2" 2>/dev/null || true
            [[ $(head -c 4 "$2") == $'\x7fELF' ]] && return 0
        done
    done
    return 1
}
have_vmlinux=0
if grep -q '^CONFIG_PVH=y' "$work/kernel/boot/config-$release" 2>/dev/null && extract_vmlinux "$vmlinuz" "$work/vmlinux"; then
    have_vmlinux=1
fi

# --- initramfs ----------------------------------------------------------------------------------------------------
cp /bin/busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
gcc -static -O2 -Wall -Wextra -Werror -o "$root/bin/vfs-tool" "$here/vfs-tool.c"
install -m 755 "$here/init" "$root/init"
# The kernel opens /dev/console for init before anything is mounted; init also reopens it after mounting devtmpfs,
# which covers a build without root (no mknod).
if [[ $(id -u) -eq 0 ]]; then mknod -m 600 "$root/dev/console" c 5 1; fi
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$work/initrd.gz"

cp "$vmlinuz" "$work/vmlinuz"
mv -f "$work/vmlinuz" "$out/vmlinuz"
if ((have_vmlinux)); then mv -f "$work/vmlinux" "$out/vmlinux"; else rm -f "$out/vmlinux"; fi
mv -f "$work/initrd.gz" "$out/initrd.gz"
echo "$release" >"$out/kernel-release"
echo "$stamp" >"$out/stamp"
echo "prepare.sh: built $out (kernel $release from $kpkg $kver; modules: $(paste -sd ' ' "$root/etc/vfs-modules"))"
