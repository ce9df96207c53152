# Sourced by the Python client tests: makes (or reuses) a virtualenv, installing Debian's
# python3 and python3-venv first when the machine lacks them.

ensure_venv() {
  local venv=$1
  [ -x "$venv/bin/python" ] && return 0
  local python="${PYTHON:-python3}"
  if ! command -v "$python" >/dev/null || ! "$python" -m venv --help >/dev/null 2>&1; then
    printf 'python: installing python3 and python3-venv from Debian\n' >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
    python=python3
  fi
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
}
