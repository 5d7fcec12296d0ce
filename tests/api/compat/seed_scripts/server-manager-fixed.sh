#!/bin/bash
# The monitoring commands of the seed's scripts/server-manager-fixed.sh as its documentation
# describes them (`status`, `health`: /health through python3 -m json.tool; `reset-all`: a
# breaker reset for every instance with a session directory), rebuilt for the compatibility
# tests. Starting and stopping the Node process has no part here. The one change: the access
# token this server asks for on a reset, from $ACCESS_TOKEN.

PORT=${PORT:-8000}

case "$1" in
    status|health)
        curl -s "http://localhost:$PORT/health" | python3 -m json.tool
        ;;
    reset-all)
        for dir in sessions/*/; do
            [ -d "$dir" ] || continue
            instance_id=$(basename "$dir")
            echo "Resetting $instance_id"
            curl -s -X POST "http://localhost:$PORT/reset-circuit-breaker/$instance_id?access_token=$ACCESS_TOKEN"
            echo
        done
        ;;
    *)
        echo "Usage: $0 {status|health|reset-all}"
        exit 1
        ;;
esac
