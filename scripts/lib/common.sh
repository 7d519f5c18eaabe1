# Shared helpers for Turnout's scripts. Source it; do not run it.

# Swift lives in /opt/swift on the machines Turnout is built on; make sure it is on PATH.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# missing_packages PKG...: prints the ones dpkg does not have installed.
missing_packages() {
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

# ensure_packages PKG...: installs the Debian packages that are missing, and only those.
ensure_packages() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (or install them yourself)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# ensure_packages_stopped PKG...: like ensure_packages, for packages that would start a service
# on install (nginx on :80, prometheus on :9090, both on every address): a temporary
# policy-rc.d keeps them stopped; Turnout runs its own instances on 127.0.0.1.
ensure_packages_stopped() {
  local missing
  mapfile -t missing < <(missing_packages "$@")
  [ ${#missing[@]} -eq 0 ] && return 0
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  ensure_packages "${missing[@]}" || { rm -f /usr/sbin/policy-rc.d; return 1; }
  rm -f /usr/sbin/policy-rc.d
}

# require_swift: fails with a clear message when no Swift 6 toolchain is present.
# ensure_browser: Debian's headless Chromium and its driver, and selenium (below 4.40) for
# python3, for the dashboard's browser test and scripts/screenshot-dashboard.
ensure_browser() {
  ensure_packages chromium chromium-driver
  ensure_python_module selenium 'selenium<4.40'
}

# ensure_python_module MODULE REQUIREMENT: pip-installs REQUIREMENT (from PyPI) for python3 when
# `import MODULE` fails.
ensure_python_module() {
  ensure_packages python3 python3-pip
  python3 -c "import $1" 2>/dev/null && return 0
  say "installing $2 for python3"
  python3 -m pip install -q "$2" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "$2" \
    || die "cannot install $2 for python3 (python3 -m pip install '$2')"
}

require_swift() {
  command -v swift >/dev/null 2>&1 || die "no swift on PATH: install Swift 6 (https://swift.org/install) or add it to PATH"
}

# ensure_docker: installs docker.io when missing and starts dockerd when it is not running.
# Sets TURNOUT_STARTED_DOCKERD to dockerd's pid when it started it (see stop_started_docker).
TURNOUT_STARTED_DOCKERD=""
# The flags of every release build (what scripts/package ships and the benchmarks measure):
# Swift's run-time exclusivity checks are off there (-enforce-exclusivity=unchecked). Under
# callgrind they were 21% of the router's instructions per proxied request, most of them in
# SwiftNIO, which only a command-line flag reaches. Debug builds, and so every test, keep them.
release_flags=(-c release -Xswiftc -enforce-exclusivity=unchecked)

ensure_docker() {
  ensure_packages docker.io
  if docker_up; then return 0; fi
  say "starting dockerd (log: /var/log/turnout-dockerd.log)"
  dockerd >/var/log/turnout-dockerd.log 2>&1 &
  TURNOUT_STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    docker_up && return 0
    sleep 0.5
  done
  tail -20 /var/log/turnout-dockerd.log >&2
  die "dockerd did not start; see /var/log/turnout-dockerd.log"
}

docker_up() {
  [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1
}

# stop_started_docker: stops dockerd if ensure_docker started it.
stop_started_docker() {
  [ -n "$TURNOUT_STARTED_DOCKERD" ] || return 0
  say "stopping the dockerd this script started"
  kill "$TURNOUT_STARTED_DOCKERD" 2>/dev/null || true
  wait "$TURNOUT_STARTED_DOCKERD" 2>/dev/null || true
}

# whole_token SECRET PKI_DIR: the whole join token (TRN-1-<CA fingerprint>-SECRET), as
# `schedctl node join-command` prints it, for a scheduler whose cluster CA is in PKI_DIR
# (pki/ beside its database, made at its first start: waited for up to 20 s).
whole_token() {
  local secret="$1" pki="$2"
  for _ in $(seq 1 200); do [ -s "$pki/ca.pem" ] && break; sleep 0.1; done
  [ -s "$pki/ca.pem" ] || die "no cluster CA in $pki: did schedd start? (see its log)"
  python3 - "$pki/ca.pem" "$secret" <<'PY'
import base64, hashlib, sys
body = "".join(l for l in open(sys.argv[1]).read().splitlines()
               if l and not l.startswith("-----"))
print("TRN-1-%s-%s" % (hashlib.sha256(base64.b64decode(body)).hexdigest(), sys.argv[2]))
PY
}
