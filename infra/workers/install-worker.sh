#!/bin/bash
# Prepare a Debian host as a credflow worker, as root, with the checkout at /opt/credflow at the same
# commit as the compose host. It installs ffmpeg, libmagic and the virtualenv (make install), the
# credflow user, the folders and the systemd unit; it starts nothing: fill in the settings, the secrets
# and the keys first (infra/README.md, "More worker hosts"), then `systemctl enable --now credflow-worker`.
set -euo pipefail

home=${CREDFLOW_HOME:-/opt/credflow}
[[ $(id -u) == 0 ]] || { echo "install-worker: run as root" >&2; exit 1; }
[[ -f $home/prefect.yaml ]] || { echo "install-worker: no credflow checkout at $home" >&2; exit 1; }

make -C "$home" install

id credflow >/dev/null 2>&1 || useradd --system --home-dir /var/lib/credflow --shell /usr/sbin/nologin credflow
install -d -o credflow -g credflow -m 0750 /var/lib/credflow /var/lib/credflow/prefect
install -d -m 0755 /etc/credflow
install -d -m 0700 /etc/credflow/secrets
if [[ ! -e /etc/credflow/worker.env ]]; then
    install -m 0640 -g credflow "$home/infra/workers/worker.env.example" /etc/credflow/worker.env
    echo "install-worker: edit /etc/credflow/worker.env"
fi
for name in credflow_db_password credflow_secret_key sendgrid_api_key prefect_auth_string aws_credentials; do
    [[ -s /etc/credflow/secrets/$name ]] || echo "install-worker: copy /etc/credflow/secrets/$name from the compose host's secrets (mode 0600)"
done
[[ -d /var/lib/credflow/keys ]] || echo "install-worker: copy the keys (backup.sh's keys-*.tar) into /var/lib/credflow/keys, owned by credflow, mode 0700"

install -m 0644 "$home/infra/workers/credflow-worker.service" /etc/systemd/system/credflow-worker.service
systemctl daemon-reload
echo "install-worker: then run: systemctl enable --now credflow-worker"
