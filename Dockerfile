# Asterisk 22 (Debian sid) with res_sticky, built from this checkout.
#   docker build -t res-sticky .
#   docker run --rm -it --network host res-sticky
# The image installs the same package list as the test root
# (tests/root/install-packages.sh), so what the tests run is what ships.
FROM debian:sid
COPY tests/root/packages.txt tests/root/install-packages.sh /tmp/res-sticky/
RUN sh /tmp/res-sticky/install-packages.sh /tmp/res-sticky/packages.txt \
 && apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cargo rustc clang libclang-dev unixodbc-dev make dpkg-dev ca-certificates \
 && apt-get clean
COPY . /src/res_sticky
WORKDIR /src/res_sticky
RUN make ASTERISK_INCLUDE_DIR=/usr/include install \
 && rm -rf target
CMD ["asterisk", "-f", "-vvv"]
