#!/bin/bash
# The seed's scripts/reset-circuit-breaker.sh as its documentation describes it (usage
# `reset-circuit-breaker.sh <instance_id> [port]`, one POST, success read from the raw body),
# rebuilt for the compatibility tests. The one change: this server asks for the access token,
# taken from $ACCESS_TOKEN.

if [ -z "$1" ]; then
    echo "❌ Error: Instance ID required"
    echo "Usage: ./reset-circuit-breaker.sh <instance_id> [port]"
    exit 1
fi

INSTANCE_ID=$1
PORT=${2:-8000}

echo "🔄 Resetting circuit breaker for instance: $INSTANCE_ID"
RESPONSE=$(curl -s -X POST "http://localhost:$PORT/reset-circuit-breaker/$INSTANCE_ID?access_token=$ACCESS_TOKEN")
echo "Response: $RESPONSE"

# Compact JSON, as the seed's server writes it: no space after the colon.
if echo "$RESPONSE" | grep -q '"status":"success"'; then
    echo "✅ Circuit breaker reset successfully!"
else
    echo "❌ Failed to reset circuit breaker"
fi
