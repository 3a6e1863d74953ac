#!/usr/bin/env bash
# Builds the test VM's kernel and initramfs, or reuses a cached build, and prints the directory
# holding vmlinuz and initrd.img, and guest-initrd.img.
#
# The kernel is the newest Debian generic linux-image-*-amd64 package in the apt lists (the cloud
# flavour lacks 9p). The initramfs holds busybox-static, the init script beside this file and the
# modules listed in modules.txt plus their dependencies, decompressed for busybox's insmod.
# guest-initrd.img is the same for the nested guest that the Java microVM boots with the same
# kernel inside the test VM: busybox, guest-init as /init, the modules of guest-modules.txt,
# guest-net (guest-net.c, built static here with gcc) as /bin/guest-net, and Debian's ethtool with
# its libraries.
# The cache directory, ${VHOSTNET_TESTVM_CACHE:-$HOME/.cache/vhostnet/testvm}/<key>, is keyed by a
# hash of the kernel package and version, the busybox version and the files of this directory.
#
# Needs: apt (apt-cache, apt-get), dpkg-deb, busybox-static, cpio, gzip, gcc and libc6-dev (a
# static libc for guest-net); zstd too if the
# kernel's modules are zstd-compressed (Debian's are plain or xz, which busybox decompresses).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${VHOSTNET_TESTVM_CACHE:-$HOME/.cache/vhostnet/testvm}

log() { echo "build-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The package that the linux-image-amd64 metapackage currently depends on, e.g.
# linux-image-6.1.0-56-amd64.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# Resolves the kernel package and version, and the image directory they and this directory's
# files are keyed to.
resolve() {
    package=$(kernel_package)
    [[ -n $package ]] || return 1
    version=$(apt-cache show --no-all-versions "$package" | awk '/^Version:/ { print $2; exit }')
    key=$( {
        echo "$package=$version busybox-static=$busybox_version"
        cat "$here/init" "$here/modules.txt" "$here/guest-init" "$here/guest-modules.txt" "$here/guest-net.c" \
            "$here/build-image.sh"
    } | sha256sum | cut -c1-16)
    image="$cache_root/$key"
}

# Prints the image directory and exits if it is already built.
exit_if_cached() {
    if [[ -f $image/vmlinuz && -f $image/initrd.img && -f $image/guest-initrd.img ]]; then
        log "reusing $image ($package $version)"
        echo "$image"
        exit 0
    fi
}

busybox_version=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null) ||
    die "busybox-static is not installed (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio is not installed (apt-get install cpio)"
command -v gcc >/dev/null || die "gcc is not installed (apt-get install gcc libc6-dev)"

if ! resolve; then
    log "linux-image-amd64 not in the apt lists; running apt-get update"
    apt-get update -qq >&2
    resolve || die "cannot resolve linux-image-amd64 to a kernel package"
fi
exit_if_cached

log "building $image from $package $version"
mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# apt-get download as root would warn that its sandbox user cannot write here.
download() { apt-get -q -o APT::Sandbox::User=root download "$package=$version" >&2; }
if ! download; then
    log "cannot download $package $version; the archive may have moved on: running apt-get update"
    apt-get update -qq >&2
    resolve || die "cannot resolve linux-image-amd64 to a kernel package"
    exit_if_cached
    download
fi
dpkg-deb -x ./*.deb kernel
moddir=$(echo kernel/lib/modules/*)
[[ -d $moddir ]] || die "no lib/modules in $package"

# Every module file of the kernel, by name with '-' read as '_' as the kernel does.
declare -A module_file
while IFS= read -r -d '' file; do
    name=${file##*/}
    name=${name%%.ko*}
    module_file[${name//-/_}]=$file
done < <(find "$moddir" -name '*.ko*' -print0)
builtin=$(sed 's#.*/##; s/\.ko$//; s/-/_/g' "$moddir/modules.builtin")

declare -A seen
load_order=()

# Adds a module to the initramfs tree $tree after its dependencies (its depends= modinfo field).
add_module() {
    local name=${1//-/_} file dep deps
    [[ -z ${seen[$name]:-} ]] || return 0
    seen[$name]=1
    file=${module_file[$name]:-}
    if [[ -z $file ]]; then
        if grep -qx "$name" <<<"$builtin"; then
            log "$name: built into the kernel"
        else
            log "warning: $name: neither a module nor built into $package; skipped"
        fi
        return 0
    fi
    case $file in
        *.ko) cat "$file" ;;
        *.ko.xz) /bin/busybox xzcat "$file" ;;
        *.ko.gz) /bin/busybox zcat "$file" ;;
        *.ko.zst) zstd -qdc "$file" ;;
        *) die "unknown module compression: $file" ;;
    esac >"$tree/lib/modules/$name.ko"
    deps=$(tr '\0' '\n' <"$tree/lib/modules/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' ')
    for dep in $deps; do
        add_module "$dep"
    done
    load_order+=("$name")
}

# Adds Debian's ethtool to the initramfs tree $tree (the guest's own `ethtool -L`, which busybox
# lacks): the binary from the ethtool package of the apt lists, and the shared libraries the host's
# dynamic linker resolves for it (this host is the same Debian release), at their own paths.
add_ethtool() {
    local lib binary
    (mkdir -p ethtool && cd ethtool && apt-get -q -o APT::Sandbox::User=root download ethtool >&2 &&
        dpkg-deb -x ./ethtool_*.deb root) || die "cannot download Debian's ethtool"
    binary=$(find ethtool/root -path '*bin/ethtool' -type f | head -n 1)
    [[ -n $binary ]] || die "no bin/ethtool in Debian's ethtool package"
    install -m 755 "$binary" "$tree/bin/ethtool"
    if ldd "$binary" | grep 'not found' >&2; then
        die "ethtool's libraries are not all on this host (apt-get install libmnl0)"
    fi
    for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
        mkdir -p "$tree$(dirname "$lib")"
        cp -L "$lib" "$tree$lib"
    done
}

# Packs an initramfs: busybox, INIT as /init, the modules of MODULES_LIST, Debian's ethtool if
# WITH_ETHTOOL is 1, and the static programs built from the C files given after it (into /bin,
# named for the file), into OUT.
pack_initramfs() {
    local init=$1 modules_list=$2 out=$3 with_ethtool=$4 module program
    shift 4
    tree=$(mktemp -d "$work/tree.XXXXXX")
    mkdir -p "$tree/bin" "$tree/lib/modules"
    seen=()
    load_order=()
    while read -r module; do
        add_module "$module"
    done < <(sed 's/#.*//; /^[[:space:]]*$/d' "$modules_list")
    printf '%s\n' "${load_order[@]}" >"$tree/lib/modules/load-order"
    log "${out##*/} modules: ${load_order[*]}"
    cp /bin/busybox "$tree/bin/busybox"
    install -m 755 "$init" "$tree/init"
    if [[ $with_ethtool == 1 ]]; then
        add_ethtool
    fi
    for program in "$@"; do
        gcc -static -O2 -Wall -Werror -o "$tree/bin/$(basename "$program" .c)" "$program" ||
            die "cannot build $program static (apt-get install gcc libc6-dev)"
    done
    (cd "$tree" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) | gzip -6 >"$out"
}

mkdir -p out
pack_initramfs "$here/init" "$here/modules.txt" out/initrd.img 0
pack_initramfs "$here/guest-init" "$here/guest-modules.txt" out/guest-initrd.img 1 "$here/guest-net.c"
cp kernel/boot/vmlinuz-* out/vmlinuz
echo "$package $version" >out/kernel-package
# Another build of the same key may have finished first; either copy is fine.
mv -T out "$image" 2>/dev/null || log "$image appeared meanwhile; using it"
log "built $image"
echo "$image"
