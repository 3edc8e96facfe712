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
  # cyrus-common depends on an MTA: Debian's default, exim4, comes along when there is none.
  local exim_before=
  if dpkg-query -W -f='${Status}' exim4-base 2>/dev/null | grep -q 'install ok installed'; then
    exim_before=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" || rc=$?
  if [ -n "$placed" ]; then
    as_root rm -f "$policy"
  fi
  # policy-rc.d only keeps a service from starting now; the package still enables it for the
  # next boot. A Dovecot or Cyrus we installed for the tests must never become a system IMAP
  # server on :143/:993, nor an exim4 that came with cyrus-common a mail server on :25, so
  # disable what we just installed (a server the admin installed is left alone).
  if [ "$rc" -eq 0 ] && command -v systemctl >/dev/null; then
    local units=()
    for pkg in "${missing[@]}"; do
      case $pkg in
        dovecot-*) units+=(dovecot.service dovecot.socket) ;;
        cyrus-*) units+=(cyrus-imapd.service) ;;
      esac
    done
    if [ -z "$exim_before" ] &&
      dpkg-query -W -f='${Status}' exim4-base 2>/dev/null | grep -q 'install ok installed'; then
      units+=(exim4.service)
    fi
    if [ ${#units[@]} -gt 0 ]; then
      as_root systemctl disable --now "${units[@]}" >/dev/null 2>&1 ||
        as_root systemctl disable "${units[@]}" >/dev/null 2>&1 || true
      echo "stays disabled (tend's tests and demo run their own servers): ${units[*]}"
    fi
  fi
  return "$rc"
}

# Debian's PATH for an ordinary user has no /usr/sbin, where dovecot lives.
add_sbin_to_path() {
  case ":$PATH:" in
    *:/usr/sbin:*) ;;
    *) PATH="$PATH:/usr/sbin" ;;
  esac
  export PATH
}
