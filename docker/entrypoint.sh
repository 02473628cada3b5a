#!/bin/sh
# Entry point of the mvnstream image (Dockerfile): works out the address a node advertises, then runs mvnstream.
#
# Settings are MVNSTREAM__Section__Key variables (README "Configuration"); MVNSTREAM_SEED_PEERS is the entry point's own.
#
# - A node that binds every interface (MVNSTREAM__Node__Hostname=0.0.0.0) must advertise an address the other nodes can
#   dial (NodeConfiguration refuses to start otherwise). When MVNSTREAM__Node__PublicHostname is not set, it is this
#   container's own IP address: each replica of 'docker compose up --scale worker=N', and each container started
#   with 'docker compose run', is then reachable at the address it advertises.
# - MVNSTREAM_SEED_PEERS=SERVICE:PORT appends the current address of every container of SERVICE (what the network's
#   DNS answers for the service name) to MVNSTREAM__Node__Seeds: a restarted coordinator rejoins the running workers.
set -eu

if [ "${MVNSTREAM__Node__Hostname:-}" = "0.0.0.0" ] && [ -z "${MVNSTREAM__Node__PublicHostname:-}" ]; then
  # hostname -I: the container's addresses, loopback excluded; hostname -i: what its name resolves to.
  ip=$(hostname -I 2>/dev/null || true)
  [ -n "${ip% }" ] || ip=$(hostname -i 2>/dev/null || true)
  ip=${ip%% *}
  if [ -z "$ip" ]; then
    echo "mvnstream entrypoint: cannot find this container's IP address; set MVNSTREAM__Node__PublicHostname" >&2
    exit 2
  fi
  export MVNSTREAM__Node__PublicHostname="$ip"
fi

if [ -n "${MVNSTREAM_SEED_PEERS:-}" ]; then
  peer_host=${MVNSTREAM_SEED_PEERS%:*}
  peer_port=${MVNSTREAM_SEED_PEERS##*:}
  for peer in $(getent ahostsv4 "$peer_host" 2>/dev/null | cut -d' ' -f1 | sort -u); do
    [ "$peer" = "${MVNSTREAM__Node__PublicHostname:-}" ] && continue
    MVNSTREAM__Node__Seeds="${MVNSTREAM__Node__Seeds:+$MVNSTREAM__Node__Seeds,}akka.tcp://mvnstream@$peer:$peer_port"
  done
  export MVNSTREAM__Node__Seeds
fi

exec "${MVNSTREAM_DOTNET:-dotnet}" "${MVNSTREAM_DLL:-/app/mvnstream.dll}" "$@"
