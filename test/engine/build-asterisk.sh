#!/usr/bin/env bash
# Builds the test engine, Asterisk 22.10.1 with bundled PJSIP (pjproject 2.17), into a cache folder outside
# the checkout, keyed by version and build options, so a machine builds it once (~30-45 min on 2 cores) and
# every later run reuses it in milliseconds. Prints the install prefix as its last line.
#
# Archives come from $MITSCHNITT_VENDOR_DIR, else ../shared/vendor next to the checkout, else (on a machine
# with internet) the official release locations; the sha256 is always checked.
# Cache: $MITSCHNITT_ENGINE_CACHE (default /var/cache/mitschnitt-engine). Build log: <cache>/build-<key>.log.
set -euo pipefail

AST_VERSION=22.10.1
AST_SHA256=aa64bbbd413aed11e176bfdb323899b3bcbc7ce037702e2503ca10a397ca8a3f
PJ_VERSION=2.17
PJ_SHA256=04b2eb1f0f01aa0ad1945b167171843448a51aa6b7c3e806496d434f13a112b7
AST_URL=https://downloads.asterisk.org/pub/telephony/asterisk/releases/asterisk-$AST_VERSION.tar.xz
# The pjproject archive Asterisk's own build downloads (same md5 as third-party/pjproject/*.md5).
PJ_URL=https://raw.githubusercontent.com/asterisk/third-party/master/pjproject/$PJ_VERSION/pjproject-$PJ_VERSION.tar.bz2

DEBIAN_BUILD_DEPS=(build-essential pkg-config libedit-dev libjansson-dev libxml2-dev libsqlite3-dev uuid-dev
  libssl-dev libjwt-dev bzip2 xz-utils)

# Modules the tests never load and nothing they load depends on: leaving them out saves build time.
UNUSED_MODULES=(app_voicemail app_voicemail_imap app_voicemail_odbc app_minivm app_festival app_sms app_adsiprog
  app_getcpeid app_alarmreceiver app_amd app_followme app_externalivr app_jack app_meetme app_osplookup
  chan_skinny chan_mgcp chan_unistim chan_motif chan_console chan_audiosocket chan_websocket
  res_ari res_ari_applications res_ari_asterisk res_ari_bridges res_ari_channels res_ari_device_states
  res_ari_endpoints res_ari_events res_ari_model res_ari_playbacks res_ari_recordings res_ari_sounds
  res_xmpp res_calendar res_calendar_caldav res_calendar_ews res_calendar_exchange res_calendar_icalendar
  res_phoneprov res_pjsip_phoneprov_provider res_fax res_fax_spandsp res_snmp res_geolocation res_prometheus
  res_aeap res_speech_aeap res_smdi res_adsi res_config_ldap res_config_pgsql res_config_odbc res_config_curl
  res_stir_shaken res_pjsip_stir_shaken cdr_custom cdr_manager cdr_csv cdr_sqlite3_custom cdr_adaptive_odbc
  cdr_odbc cdr_pgsql cdr_radius cdr_tds cdr_beanstalkd cel_custom cel_manager cel_sqlite3_custom cel_odbc
  cel_pgsql cel_radius cel_tds cel_beanstalkd)
MENUSELECT_ARGS=(--disable BUILD_NATIVE --disable-category MENUSELECT_CORE_SOUNDS --disable-category MENUSELECT_MOH
  --disable-category MENUSELECT_EXTRA_SOUNDS --disable-category MENUSELECT_TESTS --disable-category MENUSELECT_ADDONS)
CONFIGURE_ARGS=(--with-jansson-bundled=no --with-libjwt-bundled=no --with-pjproject-bundled)

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${MITSCHNITT_ENGINE_CACHE:-/var/cache/mitschnitt-engine}
key=$(printf '%s\n' "$AST_VERSION" "$PJ_VERSION" "${CONFIGURE_ARGS[*]}" "${MENUSELECT_ARGS[*]}" "${UNUSED_MODULES[*]}" \
  | sha256sum | cut -c1-12)
prefix=$cache/asterisk-$AST_VERSION-$key
log=$cache/build-$key.log

if [ -f "$prefix/.complete" ]; then
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.build-$key.lock"
if ! flock -n 9; then
  echo "another run is building the engine; waiting for it ($cache/.build-$key.lock)" >&2
  flock 9
fi
if [ -f "$prefix/.complete" ]; then   # another run finished it while we waited
  echo "$prefix"
  exit 0
fi

missing=()
for pkg in "${DEBIAN_BUILD_DEPS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing build dependencies: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

archives=$cache/archives
mkdir -p "$archives"
# fetch NAME SHA256 URL: copies or downloads one archive into $archives and checks its sha256.
fetch() {
  local name=$1 sha=$2 url=$3 dir
  for dir in "${MITSCHNITT_VENDOR_DIR:-}" "$repo/../shared/vendor"; do
    if [ -n "$dir" ] && [ -f "$dir/$name" ]; then
      cp "$dir/$name" "$archives/$name.part"
      break
    fi
  done
  if [ ! -f "$archives/$name.part" ]; then
    echo "downloading $url" >&2
    curl -fsSL -o "$archives/$name.part" "$url"
  fi
  if ! echo "$sha  $archives/$name.part" | sha256sum -c --quiet - >/dev/null 2>&1; then
    rm -f "$archives/$name.part"
    echo "error: $name does not have the expected sha256 $sha; refusing to build from it" >&2
    exit 1
  fi
  mv "$archives/$name.part" "$archives/$name"
}
ast_tar=asterisk-$AST_VERSION.tar.xz
pj_tar=pjproject-$PJ_VERSION.tar.bz2
[ -f "$archives/$ast_tar" ] || fetch "$ast_tar" "$AST_SHA256" "$AST_URL"
[ -f "$archives/$pj_tar" ] || fetch "$pj_tar" "$PJ_SHA256" "$PJ_URL"

src=$cache/build-$key
rm -rf "$src" "$prefix"
mkdir -p "$src"
echo "building Asterisk $AST_VERSION with PJSIP $PJ_VERSION into $prefix (log: $log); this takes 30-45 min once" >&2
started=$(date +%s)
{
  tar -xf "$archives/$ast_tar" -C "$src" --strip-components=1
  cd "$src"
  ./configure --prefix="$prefix" "${CONFIGURE_ARGS[@]}" --with-externals-cache="$archives"
  make menuselect.makeopts
  disable=()
  for m in "${UNUSED_MODULES[@]}"; do
    grep -q "name=\"$m\"" menuselect-tree && disable+=(--disable "$m")
  done
  menuselect/menuselect "${MENUSELECT_ARGS[@]}" "${disable[@]}" menuselect.makeopts
  make -j"$(($(nproc) + 1))"
  make install
} >"$log" 2>&1 || {
  tail -n 40 "$log" >&2
  echo "error: the Asterisk build failed; the whole log is $log" >&2
  exit 1
}
touch "$prefix/.complete"
rm -rf "$src"
echo "built in $(( $(date +%s) - started )) s" >&2
echo "$prefix"
