#!/bin/bash
# First start of an empty data volume only (the postgres image runs /docker-entrypoint-initdb.d/ then):
# one role and one database each for Prefect's server and for credflow, each role owning its own
# database and nothing else, with the passwords read from the compose secrets.
set -euo pipefail

create_database() {
    local db=$1 role=$2 password_file=$3 password
    if [[ ! -s $password_file ]]; then
        echo "10-create-databases: $password_file is missing or empty" >&2
        return 1
    fi
    password=$(<"$password_file")
    # psql variables (:"x" quotes an identifier, :'x' a literal), so no value is pasted into SQL.
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
        --set=db="$db" --set=role="$role" --set=password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
}

create_database "${PREFECT_DB_NAME:-prefect}" "${PREFECT_DB_USER:-prefect}" "${PREFECT_DB_PASSWORD_FILE:?}"
create_database "${CREDFLOW_DB_NAME:-credflow}" "${CREDFLOW_DB_USER:-credflow}" "${CREDFLOW_DB_PASSWORD_FILE:?}"
