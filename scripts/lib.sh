# Shared bash helpers for scripts/*: source it, don't run it.

# Print a section header.
section() {
  printf '\n\033[1m==> %s\033[0m\n' "$*"
}

# Run a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# Install the Debian packages among "$@" that are missing (apt-get update only if needed).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "installing: ${missing[*]}"
  as_root apt-get update -q
  # Keep the packages' own services (the system Dovecot on :143) from starting: the tests run
  # their own servers, and a failed start (no systemd, port taken) would fail the install.
  # policy-rc.d exit 101 is Debian's switch for that; only ours is removed afterwards.
  local policy=/usr/sbin/policy-rc.d placed=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 0755 "$policy"
    placed=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  if [ -n "$placed" ]; then
    as_root rm -f "$policy"
  fi
  return "$rc"
}
