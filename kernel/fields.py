"""Serializer fields the API's bodies share."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StringField(serializers.CharField):
    """A CharField that refuses a JSON number or boolean instead of turning it into text: a
    client that sends `"instance_id": 123` has a bug it should hear about."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)
