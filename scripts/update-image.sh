#!/usr/bin/env bash
# Set the tag of one image in one environment: scripts/update-image.sh ENV IMAGE TAG [OPTIONS]
#   scripts/update-image.sh dev aegis/api 1.4.2
#   scripts/update-image.sh dev aegis/api 1.4.2@sha256:DIGEST   (the digest the build printed: the environment then
#                                                             runs exactly that image; prod requires one)
# Only the tag (and digest) move (IMAGE=*:TAG keeps newName; see `gitops-tools image set --help`).
set -euo pipefail
if [ "$#" -lt 3 ]; then
  echo "usage: $0 ENV IMAGE TAG [gitops-tools image set OPTIONS]" >&2
  exit 2
fi
env=$1 image=$2 tag=$3
shift 3
# GITOPS_TOOLS: the command to run, with arguments (split at spaces), e.g. "python3 -m gitops_tools".
read -r -a gitops_tools <<< "${GITOPS_TOOLS:-gitops-tools}"
exec "${gitops_tools[@]}" image set "$env" "$image=*:$tag" "$@"
