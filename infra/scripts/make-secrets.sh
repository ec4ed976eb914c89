#!/bin/bash
# Create the secret files compose.yaml mounts, in DIR (default: secrets beside compose.yaml).
# Random values for the passwords, the Prefect API auth string and CREDFLOW_SECRET_KEY; files you fill
# in yourself for the SendGrid API key and AWS credentials. An existing file is never overwritten, so
# running it again only adds what is missing.
set -euo pipefail

dir=${1:-$(dirname "$0")/../compose/secrets}
umask 077
mkdir -p "$dir"
chmod 0700 "$dir"

random_value() {
    # 48 random bytes as URL-safe base64: 64 characters, more than the 32 CREDFLOW_SECRET_KEY needs.
    head -c 48 /dev/urandom | base64 -w0 | tr '+/' '-_'
}

write_new() {
    local path=$dir/$1 value=$2
    if [[ -e $path ]]; then
        echo "make-secrets: $path exists, kept"
        return
    fi
    printf '%s\n' "$value" >"$path"
    # Readable inside the containers (which run as other users); the 0700 folder keeps host users out.
    chmod 0444 "$path"
    echo "make-secrets: wrote $path"
}

write_new postgres_password "$(random_value)"
write_new prefect_db_password "$(random_value)"
write_new credflow_db_password "$(random_value)"
write_new credflow_secret_key "$(random_value)"
write_new prefect_auth_string "credflow:$(random_value)"

if [[ ! -e $dir/sendgrid_api_key ]]; then
    : >"$dir/sendgrid_api_key"
    chmod 0644 "$dir/sendgrid_api_key"
    echo "make-secrets: put the SendGrid API key (Mail Send scope only) in $dir/sendgrid_api_key"
fi
if [[ ! -e $dir/aws_credentials ]]; then
    cat >"$dir/aws_credentials" <<'INI'
# An AWS shared credentials file for the credflow IAM user (infra/s3/iam-policy.json):
# [default]
# aws_access_key_id = ...
# aws_secret_access_key = ...
# Leave it without a [default] profile to use the instance's role instead.
INI
    chmod 0644 "$dir/aws_credentials"
    echo "make-secrets: fill in $dir/aws_credentials, or leave it as it is to use an instance role"
fi
