#!/bin/sh
# Checks the Python that `make venv` will build the course's environment with, before anything installs:
# Python 3.10 or newer (the pins are tested on 3.11) with its venv and ensurepip modules (on Debian and Ubuntu
# these come in a separate package, python3.X-venv). Says which Python it uses; on a problem it names it with
# the command that fixes it and exits 1.
#
# Usage: sh tools/check_prereqs.sh PYTHON [--version-only]
#   --version-only: skip the venv/ensurepip check (for an environment that already exists).
set -u
python="${1:-}"
mode="${2:-}"
fail() {
    printf 'error: %s\n' "$1" >&2
    exit 1
}
apt_hint="On Debian or Ubuntu: sudo apt-get install python3.11 python3.11-venv; elsewhere install Python 3.11 from python.org. Then run make again, or choose the interpreter with make PYTHON=/path/to/python3.11 venv."

[ -n "$python" ] || fail "no Python found (tried python3.11, python3.12, python3.10, python3). The course needs Python 3.10 or newer. $apt_hint"
if ! command -v "$python" >/dev/null 2>&1; then
    fail "$python was not found. The course needs Python 3.10 or newer (its pins are tested on 3.11). $apt_hint"
fi
version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) \
    || fail "$python does not run (\"$python -c 'import sys'\" failed). $apt_hint"
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
case "$major.$minor" in
    *[!0-9.]*|.*|*.) fail "$python reported the version '$version', which is not a Python version. $apt_hint" ;;
esac
if [ "$major" -ne 3 ] || [ "$minor" -lt 10 ]; then
    fail "$python is Python $version; the course needs Python 3.10 or newer (its pins are tested on 3.11). $apt_hint"
fi
if [ "$mode" != "--version-only" ]; then
    for module in venv ensurepip; do
        if ! "$python" -c "import $module" >/dev/null 2>&1; then
            fail "$python (Python $version) has no '$module' module, which 'python -m venv' needs to create .venv. On Debian or Ubuntu: sudo apt-get install python$major.$minor-venv (or python3-venv), then run make again."
        fi
    done
fi
note=""
[ "$minor" -eq 11 ] || note=" (the pins are tested on 3.11; set PYTHON=python3.11 if an install fails)"
echo "Using $python (Python $version)$note"
