#!/usr/bin/env bash
# Installs what the benchmark's peers and sinks need, only where it is missing (idempotent).
#   Debian: awscli (the peer `curl | aws s3 cp -`), rclone (the peer `rclone copyurl`), curl, GNU time.
#   npm:    s3rver, pinned by bench/package-lock.json, into bench/node_modules.
set -euo pipefail
cd "$(dirname "$0")"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
# Debian's awscli installs /usr/bin/aws; a pip-installed `aws` earlier on PATH does not count.
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/rclone ] || missing+=(rclone)
[ -x /usr/bin/curl ] || missing+=(curl)
[ -x /usr/bin/time ] || missing+=(time)  # GNU time measures each process's peak RSS
command -v npm >/dev/null || missing+=(nodejs npm)  # s3rver runs on Node
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench/setup.sh: installing Debian packages: ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x node_modules/.bin/s3rver ]; then
    echo "bench/setup.sh: installing s3rver from bench/package-lock.json" >&2
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi
