"""Who may do what (see README "API"): reading needs a login; anyone logged in may report incidents and
acknowledge alerts; an incident is changed by its reporter or staff, an area by its owner or staff, and only
staff create areas (an area's alerts reach every dispatcher, so adding one is a control-room decision)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


class OwnerOrStaffCanChange(BasePermission):
    """Object writes only for staff or the user in the object's `view.owner_field` (reporter, owner)."""

    message = "Only its {owner} or staff may change this {kind}."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS or request.user.is_staff:
            return True
        self.message = self.message.format(owner=view.owner_field, kind=obj._meta.verbose_name)
        return getattr(obj, f"{view.owner_field}_id") == request.user.pk


class StaffCanCreate(BasePermission):
    """The `create` action only for staff."""

    message = "Only staff may create this."

    def has_permission(self, request, view) -> bool:
        return view.action != "create" or request.user.is_staff
