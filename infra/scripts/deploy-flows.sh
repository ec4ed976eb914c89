#!/bin/sh
# Create credflow's work pool when it is missing, then (re)apply every deployment in prefect.yaml.
# Safe to run again on each upgrade: an existing pool (and the concurrency limits an operator set on
# it) is left alone, and `prefect deploy` updates deployments in place.
# Needs PREFECT_API_URL (and PREFECT_API_AUTH_STRING when the server has one) and CREDFLOW_HOME.
set -eu

pool=${WORK_POOL:-credflow}
cd "${CREDFLOW_HOME:?CREDFLOW_HOME must name the credflow checkout}"

if prefect work-pool inspect "$pool" >/dev/null 2>&1; then
    echo "deploy-flows: work pool $pool exists"
else
    prefect work-pool create "$pool" --type process
fi
prefect --no-prompt deploy --all
