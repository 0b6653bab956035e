#!/bin/bash
# Makes sure this machine has what `make` needs for PURPOSE (build, test or
# deb; each includes build), as listed in packaging/host-packages. Missing
# Debian packages are installed when running as root; otherwise it stops with
# the exact command to run. The same for the rustup components of `test`.
# Usage: host-setup.sh PURPOSE...     (prints nothing when all is there)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list="$here/host-packages"
[ $# -gt 0 ] || set -- build

wanted() { # the names listed for the purposes given
    local purpose
    for purpose in "$@"; do
        awk -v p="$purpose" '!/^#/ && NF >= 2 && $2 == p { print $1 }' "$list"
    done
}

purposes=(build)
for purpose in "$@"; do
    case "$purpose" in
        build) ;;
        test) purposes+=(test rustup) ;;
        deb) purposes+=(deb) ;;
        *) echo "host-setup: unknown purpose '$purpose' (build, test, deb)" >&2; exit 2 ;;
    esac
done
deb_purposes=()
for purpose in "${purposes[@]}"; do [ "$purpose" = rustup ] || deb_purposes+=("$purpose"); done

missing=()
# Not a Debian-like system (no dpkg-query): the packages are the user's
# business (README), only the rustup components are checked.
command -v dpkg-query >/dev/null || deb_purposes=(none)
for package in $(wanted "${deb_purposes[@]}" | sort -u); do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "res_sticky needs these Debian packages on this machine; as root, run:" >&2
        echo "  apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    echo "host-setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A registry that serves a dated snapshot has expired Release files.
    apt_opts=(-o Acquire::Check-Valid-Until=false -o Acquire::Retries=3)
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

components=$(printf '%s\n' "${purposes[@]}" | grep -qx rustup && wanted rustup || true)
if [ -n "$components" ]; then
    if ! command -v rustup >/dev/null; then
        # A toolchain not managed by rustup (Debian's rustc): check the tools themselves.
        for component in $components; do
            case "$component" in
                rustfmt) cargo fmt --version >/dev/null 2>&1 || { echo "res_sticky's lint needs rustfmt (cargo fmt): install it" >&2; exit 1; } ;;
                clippy) cargo clippy --version >/dev/null 2>&1 || { echo "res_sticky's lint needs clippy (cargo clippy): install it" >&2; exit 1; } ;;
            esac
        done
    else
        installed=$(rustup component list --installed 2>/dev/null || true)
        absent=()
        for component in $components; do
            grep -q "^$component" <<<"$installed" || absent+=("$component")
        done
        if [ ${#absent[@]} -gt 0 ]; then
            echo "host-setup: rustup component add ${absent[*]}"
            rustup component add "${absent[@]}"
        fi
    fi
fi
