# Sourced by test.sh and bench scripts: ensure_debian_packages NAME... installs the Debian packages that are
# missing (with apt-get, when root) or fails naming them. A name may be a command (python3) found on PATH instead.
ensure_debian_packages() {
    local p missing=()
    for p in "$@"; do
        command -v "$p" >/dev/null 2>&1 && [[ $p == python3 ]] && continue
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq "${missing[@]}"
    else
        echo "$(basename "$0"): missing Debian packages: ${missing[*]} (run as root to install them with apt-get)" >&2
        return 1
    fi
}
