#!/usr/bin/env bash
# Installs (Debian: slurm-wlm, munge) and starts a single-node Slurm on this machine with the
# project's config (cluster/slurm/slurm.conf.in), as root. Idempotent: daemons already up are
# left alone. Prints the node's state when it is ready; fails if it is not within a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "slurm-start.sh: run as root (slurmctld and slurmd run as root here)" >&2; exit 1; fi
if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q > /dev/null
    apt-get install -y -q slurm-wlm munge > /dev/null
fi
host=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ { print $2 }' /proc/meminfo) / 1024 - 1024 ))
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
sed -e "s/@HOST@/$host/g" -e "s/@CPUS@/$cpus/g" -e "s/@MEMORY@/$memory/g" cluster/slurm/slurm.conf.in > /etc/slurm/slurm.conf.new
if ! cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf 2> /dev/null; then
    mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
    # A changed config needs fresh daemons.
    pkill -x slurmctld || true
    pkill -x slurmd || true
    sleep 1
else
    rm /etc/slurm/slurm.conf.new
fi
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2> /dev/null || true
chmod 0400 /etc/munge/munge.key
chmod 0755 /run/munge
pgrep -x munged > /dev/null || runuser -u munge -- /usr/sbin/munged
pgrep -x slurmctld > /dev/null || slurmctld
pgrep -x slurmd > /dev/null || slurmd
for _ in $(seq 60); do
    state=$(sinfo -h -N -o '%T' 2> /dev/null | head -n 1 || true)
    case "$state" in
        idle* | mixed* | allocated*) echo "slurm: node $host $state ($cpus CPUs)"; exit 0 ;;
        down* | drain*) scontrol update nodename="$host" state=resume 2> /dev/null || true ;;
    esac
    sleep 1
done
echo "slurm-start.sh: the node did not become ready; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
