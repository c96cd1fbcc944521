#!/usr/bin/env bash
# What the test suite needs besides Python packages, installed only where it is missing:
#   rsync                   (Debian) gitlab-ci-local copies files with it
#   nodejs, npm             (Debian) to install gitlab-ci-local, when there is no npm (the python:3.12 image and a
#                           bare Debian have none)
#   gitlab-ci-local 4.60.1  (npm, as pinned by ci/gitlab-ci-local/package-lock.json) runs the .gitlab-ci.yml
#                           jobs of the pipeline tests for real
#   git, python3-venv       (Debian) only when missing: a bare Debian with python3 has neither
#   prometheus-pushgateway  (Debian) the real Pushgateway that the `metrics` tests push to (started by the tests on
#                           a loopback port of their own)
#   prometheus              (Debian) for `promtool check metrics`; both without recommended packages (the node
#                           exporter and its timers). Where services start on install (a machine with systemd and
#                           no policy-rc.d), Debian starts both on their usual ports; the tests use ports of their own
#   postgresql              (Debian) a real server for the test of base/database/init (the tests start their own
#                           cluster on a port of their own, as an unprivileged user when run as root)
#   openssl                 (Debian) a certificate for that server, to test the TLS-only pg_hba.conf
#   skopeo, docker-registry (Debian) the registry mirror's copy (ci/mirror_images.py), run for real between two
#                           registries the tests start on loopback ports of their own
#   chromium, chromium-driver (Debian) a real headless browser for the report page (tests/test_report.py, driven
#                           by Selenium from the test extra)
#   a git identity          only when the machine has none (the tests set their own per repository)
# Used by .ci/run and by the `test` job of .gitlab-ci.yml, so that both run the tests with the same tools.
# Idempotent and quiet: on a machine that has everything it changes nothing and prints nothing.
set -euo pipefail

GITLAB_CI_LOCAL_VERSION=4.60.1  # also in ci/gitlab-ci-local/package.json
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Run a command without a word, unless it fails: then everything it printed, and stop.
quietly() {
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "install-test-tools: failed: $*" >&2
    exit 1
  fi
}

# A gitlab-ci-local that says another version, or that does not run (its native module missing), is reinstalled.
gitlab_ci_local_ok=false
[ "$(gitlab-ci-local --version 2>/dev/null || true)" = "$GITLAB_CI_LOCAL_VERSION" ] && gitlab_ci_local_ok=true

packages=()
command -v git >/dev/null 2>&1 || packages+=(git)
command -v rsync >/dev/null 2>&1 || packages+=(rsync)
$gitlab_ci_local_ok || command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
# `python3 -m venv` needs ensurepip, which Debian ships in python3-venv (the python:3.12 image has it built in).
python3 -c 'import ensurepip' >/dev/null 2>&1 || packages+=(python3-venv)
lean=()  # installed without their recommended packages
command -v prometheus-pushgateway >/dev/null 2>&1 || lean+=(prometheus-pushgateway)
command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || lean+=(postgresql)
command -v openssl >/dev/null 2>&1 || lean+=(openssl)
command -v skopeo >/dev/null 2>&1 || lean+=(skopeo)
command -v docker-registry >/dev/null 2>&1 || lean+=(docker-registry)
command -v chromium >/dev/null 2>&1 || lean+=(chromium)
command -v chromedriver >/dev/null 2>&1 || lean+=(chromium-driver)
if [ "${#packages[@]}" -gt 0 ] || [ "${#lean[@]}" -gt 0 ]; then
  echo "install-test-tools: apt-get install ${packages[*]}${packages[*]:+ }${lean[*]}"
  quietly as_root apt-get update -qq
  if [ "${#packages[@]}" -gt 0 ]; then
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
  fi
  if [ "${#lean[@]}" -gt 0 ]; then
    quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}"
  fi
  hash -r
fi

if ! $gitlab_ci_local_ok; then
  # Not `npm install -g gitlab-ci-local@X`: that takes the newest re2 ^1.21.4, whose releases since 1.24.1 declare
  # Node 22 and do not build on Debian 12's Node 18 (Debian 13 and the python:3.12 image have 20).
  # ci/gitlab-ci-local/package-lock.json pins re2 1.22.1 and every other dependency; npm ci installs exactly that
  # into PREFIX/lib/gitlab-ci-local-X, linked from PREFIX/bin.
  echo "install-test-tools: npm ci gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION (ci/gitlab-ci-local/package-lock.json)"
  prefix=$(npm prefix -g)
  dest=$prefix/lib/gitlab-ci-local-$GITLAB_CI_LOCAL_VERSION
  if [ -w "$prefix/lib" ] && [ -w "$prefix/bin" ]; then as=(); else as=(as_root); fi
  "${as[@]}" mkdir -p "$dest"
  "${as[@]}" cp "$here/gitlab-ci-local/package.json" "$here/gitlab-ci-local/package-lock.json" "$dest/"
  # re2 is a native module: a prebuilt binary when GitHub has one for this Node, else built here. Debian's nodejs
  # comes with its headers (libnode-dev, with npm): then the build downloads nothing from nodejs.org.
  headers=/usr/include/node/node_version.h nodedir=()
  if [ -z "${npm_config_nodedir:-}" ] && [ -f "$headers" ] && [ "v$(awk '/#define NODE_(MAJOR|MINOR|PATCH)_VERSION /{
        printf "%s%s", sep, $3; sep = "."}' "$headers")" = "$(node -p process.version)" ]; then
    nodedir=(--nodedir=/usr)
  fi
  quietly "${as[@]}" npm ci --prefix "$dest" "${nodedir[@]}" --omit=dev --loglevel=error --no-audit --no-fund
  "${as[@]}" ln -sfn "$dest/node_modules/.bin/gitlab-ci-local" "$prefix/bin/gitlab-ci-local"
  hash -r
  found=$(gitlab-ci-local --version 2>&1 || true)
  if [ "$found" != "$GITLAB_CI_LOCAL_VERSION" ]; then
    echo "install-test-tools: installed gitlab-ci-local $GITLAB_CI_LOCAL_VERSION in $dest, but" \
         "\`gitlab-ci-local --version\` ($(command -v gitlab-ci-local)) says: $found" >&2
    exit 1
  fi
fi

# Tests make commits; CI machines may have no git identity (the tests set their own per repository).
git config --global user.name >/dev/null 2>&1 || git config --global user.name "gitops-tools CI"
git config --global user.email >/dev/null 2>&1 || git config --global user.email "ci@gitops-tools.invalid"
