# Shared helpers for Turnout's scripts. Source it; do not run it.

# Swift lives in /opt/swift on the machines Turnout is built on; make sure it is on PATH.
if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: installs the Debian packages that are missing, and only those.
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (or install them yourself)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# require_swift: fails with a clear message when no Swift 6 toolchain is present.
require_swift() {
  command -v swift >/dev/null 2>&1 || die "no swift on PATH: install Swift 6 (https://swift.org/install) or add it to PATH"
}
