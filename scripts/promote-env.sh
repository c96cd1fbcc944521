#!/usr/bin/env bash
# Promote what SOURCE runs to TARGET: scripts/promote-env.sh SOURCE TARGET [OPTIONS]
#   scripts/promote-env.sh dev staging
#   scripts/promote-env.sh staging prod --image aegis/api     # prod: a merge request when pushing
# See `gitops-tools promote --help`.
set -euo pipefail
# GITOPS_TOOLS: the command to run, with arguments (split at spaces), e.g. "python3 -m gitops_tools".
read -r -a gitops_tools <<< "${GITOPS_TOOLS:-gitops-tools}"
exec "${gitops_tools[@]}" promote "$@"
