#!/usr/bin/env bash
# Promote what SOURCE runs to TARGET: scripts/promote-env.sh SOURCE TARGET [OPTIONS]
#   scripts/promote-env.sh dev staging
#   scripts/promote-env.sh staging prod --image aegis/api     # prod: a merge request when pushing
# See `gitops-tools promote --help`.
set -euo pipefail
exec "${GITOPS_TOOLS:-gitops-tools}" promote "$@"
