#!/bin/bash
# Builds res-sticky_<version>_<arch>.deb from a built res_sticky.so for the
# Asterisk installed in TARGET (a Debian system: the test root, or / for
# this machine). Depends names exactly the asterisk-abi-<sum> that TARGET's
# asterisk package provides, after checking that the headers the module was
# built against carry the same build-option sum: a package for another
# Asterisk build refuses to install rather than failing to load.
#
# Usage: build.sh MODULE HEADERS_DIR TARGET OUTDIR
#   DEB_VERSION overrides the version of debian/changelog (for tests).
set -euo pipefail
module=${1:?usage: build.sh MODULE HEADERS_DIR TARGET OUTDIR}
headers=${2:?}
target=${3:?}
outdir=${4:?}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "deb: $*" >&2; exit 1; }

admindir="$target/var/lib/dpkg"
status=$(dpkg-query --admindir="$admindir" -W -f='${db:Status-Abbrev}' asterisk 2>/dev/null || true)
[ "$status" = "ii " ] || fail "no asterisk package installed in $target (the package is made for its ABI)"
provides=$(dpkg-query --admindir="$admindir" -W -f='${Provides}' asterisk)
asterisk_version=$(dpkg-query --admindir="$admindir" -W -f='${Version}' asterisk)
abi=$(tr ',' '\n' <<<"$provides" | grep -o 'asterisk-abi-[0-9a-f]*' | head -n1) \
    || fail "$target's asterisk package provides no asterisk-abi-<sum> ($provides)"
built_sum=$(sed -n 's/^#define AST_BUILDOPT_SUM "\(.*\)"/\1/p' "$headers/asterisk/buildopts.h")
[ "asterisk-abi-$built_sum" = "$abi" ] \
    || fail "the module was built against headers with build-option sum '$built_sum', but $target's asterisk ($asterisk_version) provides $abi: rebuild against its asterisk-dev"
upstream=$(dpkg --compare-versions "${asterisk_version#*:}" ge 22 && echo ok || true)
[ -n "$upstream" ] || fail "$target's asterisk is $asterisk_version; res_sticky needs Asterisk 22 or newer"

version=${DEB_VERSION:-$(dpkg-parsechangelog -l "$here/changelog" -S Version)}
cargo_version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
[ -n "${DEB_VERSION:-}" ] || [ "$version" = "$cargo_version" ] \
    || fail "packaging/deb/changelog is at $version but Cargo.toml at $cargo_version: add a changelog entry"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
modules_dir="/usr/lib/$multiarch/asterisk/modules"
[ -d "$target$modules_dir" ] || fail "$target has no $modules_dir"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree="$work/tree"
install -D -m 0644 "$module" "$tree$modules_dir/res_sticky.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$tree$modules_dir/res_sticky.so"
install -D -m 0644 "$repo/doc/res_sticky-en_US.xml" \
    "$tree/usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml"
install -D -m 0640 "$repo/conf/sticky.conf.sample" "$tree/etc/asterisk/sticky.conf"
doc="$tree/usr/share/doc/res-sticky"
install -D -m 0644 "$here/copyright" "$doc/copyright"
install -D -m 0644 "$repo/README.md" "$doc/README.md"
gzip -9n "$doc/README.md"
changelog="$work/changelog"
if [ -n "${DEB_VERSION:-}" ]; then
    printf 'res-sticky (%s) unstable; urgency=medium\n\n  * Test build.\n\n -- %s  %s\n\n' \
        "$version" "res_sticky maintainers <maintainers@res-sticky.example>" "$(date -R)" > "$changelog"
fi
cat "$here/changelog" >> "$changelog"
install -m 0644 "$changelog" "$doc/changelog"
gzip -9n "$doc/changelog"
install -D -m 0644 "$here/lintian-overrides" "$tree/usr/share/lintian/overrides/res-sticky"

# Shared-library dependencies as dpkg-shlibdeps finds them (libc6, libodbc2,
# libgcc-s1), then what the module needs at run time besides.
mkdir -p "$work/debian"
printf 'Source: res-sticky\n\nPackage: res-sticky\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O "${tree#"$work/"}$modules_dir/res_sticky.so" 2>/dev/null \
    | sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || fail "dpkg-shlibdeps found no dependencies of the module"
depends="asterisk (>= 22), $abi, unixodbc, libsqliteodbc, $shlibs"

mkdir -p "$tree/DEBIAN"
install -m 0644 "$here/conffiles" "$tree/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$tree/DEBIAN/postinst"
(cd "$tree" && find usr etc -type f ! -path 'etc/*' -print0 | sort -z | xargs -0 md5sum) > "$tree/DEBIAN/md5sums"
chmod 0644 "$tree/DEBIAN/md5sums"
size=$(du -k -s --apparent-size --exclude=DEBIAN "$tree" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s/@DEPENDS@/$depends/" \
    "$here/control.in" > "$tree/DEBIAN/control"
find "$tree" -type d -exec chmod 0755 {} +
mkdir -p "$outdir"
deb="$outdir/res-sticky_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
echo "deb: $deb (for asterisk $asterisk_version, $abi)"
echo "deb: Depends: $depends"
