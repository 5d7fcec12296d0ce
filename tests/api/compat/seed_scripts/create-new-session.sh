#!/bin/bash
# The seed's scripts/create-new-session.sh as the contract describes it (a new id from
# /generate-instance-id, then its QR code from /get_qrcode; both read with jq), rebuilt for the
# compatibility tests. It needs WAZIPER_CREATE_INSTANCE_ON_FIRST_USE, as the seed's needed a
# session row. The port comes from $PORT (the seed's is fixed at 8000).

if [ -z "$1" ]; then
    echo "❌ Error: Access token required"
    exit 1
fi

ACCESS_TOKEN=$1
API_URL="http://localhost:${PORT:-8000}"

RESPONSE=$(curl -s "$API_URL/generate-instance-id")
INSTANCE_ID=$(echo "$RESPONSE" | jq -r '.instance_id')
if [ "$INSTANCE_ID" = "null" ] || [ -z "$INSTANCE_ID" ]; then
    echo "❌ Failed to generate instance ID"
    echo "$RESPONSE"
    exit 1
fi
echo "✅ Instance ID generated: $INSTANCE_ID"

QR_RESPONSE=$(curl -s "$API_URL/get_qrcode?access_token=$ACCESS_TOKEN&instance_id=$INSTANCE_ID")
STATUS=$(echo "$QR_RESPONSE" | jq -r '.status')
if [ "$STATUS" = "success" ]; then
    echo "✅ QR code generated successfully!"
    echo "📋 Instance ID: $INSTANCE_ID"
else
    echo "❌ Failed to generate QR code"
    echo "$QR_RESPONSE"
fi
