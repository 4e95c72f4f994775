#!/usr/bin/env bash
# Installs what bench/run.py compares against and drives the load with:
# nginx (the upstream and the proxy_cache reference), wrk and curl.
# Debian/Ubuntu, as root (or with sudo).  bench/run.py still runs without
# them: no nginx -> a Python upstream and no nginx comparisons; no wrk -> a
# Python load generator.  nginx is only run by bench/run.py, in the
# foreground with its own prefix; the system service is not started here.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y nginx wrk curl
nginx -v
wrk -v 2>&1 | head -n 1 || true
