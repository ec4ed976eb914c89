#!/bin/bash
# Back up what S3 does not hold: both databases (pg_dump, custom format) and the issuers' signing keys.
# Run on the compose host from anywhere: infra/scripts/backup.sh /srv/backups/credflow
# Ship DEST off the host (encrypted: the keys archive holds every issuer's secret key).
set -euo pipefail

dest=${1:?usage: backup.sh DEST_DIR}
compose_file=${COMPOSE_FILE:-$(cd "$(dirname "$0")/../compose" && pwd)/compose.yaml}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
umask 077
mkdir -p "$dest"

compose() {
    docker compose -f "$compose_file" "$@"
}

for db in credflow prefect; do
    out=$dest/$db-$stamp.dump
    compose exec -T postgres pg_dump --username postgres --format custom --dbname "$db" >"$out.partial"
    mv "$out.partial" "$out"
    echo "backup: $out"
done

# The keys volume, read through a throwaway container of the credflow image (no service needs to run).
out=$dest/keys-$stamp.tar
compose run --rm --no-deps -T --entrypoint tar worker -C /var/lib/credflow -cf - keys >"$out.partial"
mv "$out.partial" "$out"
echo "backup: $out"
