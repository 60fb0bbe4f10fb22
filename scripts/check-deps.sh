#!/bin/sh
# Checks that the Debian packages a make target needs are present.
# As root it installs the missing ones with apt-get; otherwise it stops with
# the exact command to run. With --check it never installs, it only says
# what to run. Usage: check-deps.sh [--check] build|bench|fuzz|valgrind|...
set -u
check_only=false
if [ "${1:-}" = "--check" ]; then
    check_only=true
    shift
fi
PYTHON=${PYTHON:-/usr/bin/python3}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
missing=""

need_cmd() {      # need_cmd COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need_pc() {       # need_pc PKGCONFIG-MODULE PACKAGE
    if ! command -v "$PKG_CONFIG" >/dev/null 2>&1; then missing="$missing $2"; return; fi
    "$PKG_CONFIG" --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_py() {       # need_py MODULE PACKAGE
    "$PYTHON" -c "import $1" >/dev/null 2>&1 || missing="$missing $2"
}

for what in "$@"; do
    case "$what" in
    build)
        need_cmd cc gcc
        need_cmd make make
        need_cmd pkg-config pkg-config
        need_pc libcurl libcurl4-openssl-dev
        need_pc openssl libssl-dev
        need_pc cunit libcunit1-dev
        # curl's TLS backend must be OpenSSL: the share interface, the CA
        # handling and the version line all assume it.
        if command -v curl-config >/dev/null 2>&1 &&
           ! curl-config --ssl-backends 2>/dev/null | grep -q OpenSSL; then
            missing="$missing libcurl4-openssl-dev"
        fi
        ;;
    bench)
        need_cmd "$PYTHON" python3
        need_py matplotlib python3-matplotlib
        ;;
    asyncio)
        need_py aiohttp python3-aiohttp
        ;;
    fuzz)
        need_cmd clang clang
        [ -n "$(ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a 2>/dev/null)" ] ||
            missing="$missing libclang-rt-14-dev"
        ;;
    valgrind)
        need_cmd valgrind valgrind
        ;;
    lint)
        need_cmd cppcheck cppcheck
        need_cmd clang-tidy clang-tidy
        ;;
    *)
        echo "check-deps.sh: unknown group '$what'" >&2
        exit 2
        ;;
    esac
done

missing=$(echo $missing | tr ' ' '\n' | sort -u | tr '\n' ' ')
[ -z "${missing% }" ] && exit 0

cmd="apt-get install -y ${missing% }"
if $check_only; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages; run: sudo apt-get update && sudo $cmd" >&2
    else
        echo "missing Debian packages; run: apt-get update && $cmd (make test installs them)" >&2
    fi
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages; run: sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
echo "installing missing Debian packages: ${missing% }" >&2
# The package lists of a fresh machine are empty; update them once first.
DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
DEBIAN_FRONTEND=noninteractive $cmd -qq >&2 || {
    echo "apt-get failed; run: apt-get update && $cmd" >&2
    exit 1
}
