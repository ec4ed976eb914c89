#!/bin/sh
# Run a command with secrets read from files: for each NAME below, NAME_FILE=/path puts the file's
# contents (trailing newlines dropped) into NAME, so secrets never sit in a compose file, a unit or
# `docker inspect` output. Used as the image's entrypoint and by the systemd units (with
# LoadCredential=, whose files are under $CREDENTIALS_DIRECTORY).
# An explicit list, not every *_FILE variable: Prefect has settings ending in _FILE that are paths.
set -eu

for name in \
    CREDFLOW_SECRET_KEY \
    CREDFLOW_SENDGRID_API_KEY \
    PGPASSWORD \
    PREFECT_API_DATABASE_PASSWORD \
    PREFECT_SERVER_API_AUTH_STRING \
    PREFECT_API_AUTH_STRING; do
    eval "file=\${${name}_FILE:-}"
    if [ -n "$file" ]; then
        if [ ! -r "$file" ]; then
            echo "with-secrets: ${name}_FILE=$file is not a readable file" >&2
            exit 1
        fi
        value=$(cat "$file")
        if [ -z "$value" ]; then
            echo "with-secrets: ${name}_FILE=$file is empty" >&2
            exit 1
        fi
        export "$name=$value"
        unset "${name}_FILE"
    fi
done
unset file value name

if [ "$#" -eq 0 ]; then
    echo "usage: with-secrets COMMAND [ARG...]" >&2
    exit 64
fi
exec "$@"
