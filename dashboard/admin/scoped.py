"""The admin's share of the visibility rule (instances/visibility.py).

Django's own permission checks decide which admin pages and actions a staff member gets; the
rule decides which rows they list. For someone with `instances.view_instance` (or a superuser)
that is every row; anyone else sees only the rows of their own instances. Bulk actions that act
on instances take only the rows whose instance the person may change.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from instances import visibility


class InstanceScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin of rows that belong to an instance through `instance_field`."""

    instance_field = "instance"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return visibility.scope(
            super().get_queryset(request), request.user, "view", through=self.instance_field
        )

    def changeable(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The selected rows whose instance the person may change (an action's working set)."""
        return visibility.scope(queryset, request.user, "change", through=self.instance_field)
