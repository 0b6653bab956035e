#!/bin/sh
# Installs res_sticky's runtime and test packages into the Debian system this
# runs in: the test root (through provision.sh) or a container image (the
# Dockerfile). Takes the package list file as its only argument.
set -eu
list=${1:?usage: install-packages.sh packages.txt}
packages=$(grep -v '^#' "$list" | tr '\n' ' ')
export DEBIAN_FRONTEND=noninteractive
# Never start services while installing: the tests start their own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
# The registry may serve a dated snapshot whose Release files have expired.
apt_opts="-o Acquire::Check-Valid-Until=false -o Acquire::Retries=3 -o APT::Install-Recommends=false"
apt-get $apt_opts update
# shellcheck disable=SC2086
apt-get $apt_opts install -y $packages
apt-get clean
mkdir -p /run/asterisk /var/lib/res-sticky
