#!/bin/sh
# Install the Debian packages deliverscan uses when they are missing: ExifTool (deep metadata
# tier, benchmark baseline), Chromium (HTML report test), ffmpeg (test media), strace and
# setpriv (the offline and permission tests). As root directly, else via sudo when it works
# without a password; otherwise say exactly what to run. Never fails the setup: the scanner runs
# without ExifTool (native tier only) and says so in its reports.
#
# Every program a test runs must be checked for here, outside the opt-in FIXTURE and BENCH
# blocks: the test suite refuses to start any other (tests/tools.py parses this file).
set -u
missing=""
command -v exiftool >/dev/null 2>&1 || missing="$missing libimage-exiftool-perl"
# Chromium renders the HTML report in its test, as a producer's browser would.
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
# ffmpeg: some ExifTool-driver tests write their media with it, and fixtures are made with it.
command -v ffmpeg >/dev/null 2>&1 || missing="$missing ffmpeg"
# strace proves the scan opens no network socket; setpriv drops root's permission override.
command -v strace >/dev/null 2>&1 || missing="$missing strace"
command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
# Only to regenerate fixtures (make fixtures): heif-enc for HEIC, zip for a ZipCrypto member,
# ImageMagick for Cineon (OpenEXR/DPX need oiiotool: pip install openimageio, see
# fixtures/gen_delivery.py).
if [ "${DELIVERSCAN_FIXTURE_TOOLS:-}" = "1" ]; then
  command -v heif-enc >/dev/null 2>&1 || missing="$missing libheif-examples"
  command -v zip >/dev/null 2>&1 || missing="$missing zip"
  command -v convert >/dev/null 2>&1 || missing="$missing imagemagick"
fi
# Only for the register benchmark (make bench-register): espeak-ng speaks the temp VO and the
# dialogue it is mixed under.
if [ "${DELIVERSCAN_BENCH_TOOLS:-}" = "1" ]; then
  command -v espeak-ng >/dev/null 2>&1 || missing="$missing espeak-ng"
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "deliverscan: please install:$missing (e.g. sudo apt-get install$missing)" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deliverscan: no apt-get here; please install ExifTool by other means" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q $missing >/dev/null 2>&1 || {
  $SUDO apt-get update -q >/dev/null 2>&1
  $SUDO apt-get install -y -q $missing >/dev/null || echo "deliverscan: apt-get install$missing failed" >&2
}
exit 0
