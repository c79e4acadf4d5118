"""One JSON error shape for every failure under /api/.

Every error body is ``{"detail": <human sentence>, "code": <machine code>}``; a validation error adds
``"errors": {<field>: [<message>, ...]}`` naming each offending field (a GeoJSON Feature's geometry is
``"geometry"``, its properties by their own names, query parameters by theirs, nested members as dotted
paths). DRF's exceptions go through `exception_handler`; Django's own error pages (unknown URL, the debug
pages, a 500) are replaced by `tracker.api.middleware.ApiErrorsMiddleware`.
"""

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.settings import api_settings

GEOMETRY = "geometry"

# Machine codes for errors that do not come from a DRF exception (and so carry no default_code).
STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "request_too_large",
    500: "server_error",
}
STATUS_DETAILS = {
    400: "Bad request.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    500: "Server error.",
}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"

    def __init__(self):
        super().__init__(f"The request body is larger than the limit of {body_limit()} bytes.")


class ResyncRequired(exceptions.APIException):
    """The log cannot bring the client's position up to date (tracker.stream.replay.resume_from): it must
    refetch the current state instead."""

    status_code = status.HTTP_410_GONE
    default_code = "resync"
    default_detail = (
        "The event log cannot resume from that id (pruned, too far behind or ahead of the log); "
        "refetch incidents, areas and alerts."
    )

    def __init__(self, last_event_id: int):
        super().__init__()
        self.last_event_id = last_event_id


def body_limit() -> int:
    """Return the largest request body the API reads, in bytes (Django's DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def error_body(detail: str, code: str, errors: dict[str, list[str]] | None = None) -> dict:
    """Return the API's error body."""
    body = {"detail": str(detail), "code": str(code)}
    if errors is not None:
        body["errors"] = errors
    return body


def status_error_response(status_code: int) -> JsonResponse:
    """Return the JSON error response for an HTTP status raised outside DRF (e.g. an unknown URL)."""
    code = STATUS_CODES.get(status_code, "error" if status_code < 500 else "server_error")
    detail = STATUS_DETAILS.get(status_code, "Request failed." if status_code < 500 else "Server error.")
    return JsonResponse(error_body(detail, code), status=status_code)


def flatten_errors(detail, path: str = "") -> dict[str, list[str]]:
    """Return DRF's nested error detail as {dotted field path: [messages]}; top-level messages go under
    "non_field_errors"."""
    key = path or api_settings.NON_FIELD_ERRORS_KEY
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for name, value in detail.items():
            name = api_settings.NON_FIELD_ERRORS_KEY if name == NON_FIELD_ERRORS else str(name)
            flat.update(flatten_errors(value, f"{path}.{name}" if path else name))
        return flat
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return {key: [str(item) for item in detail]}
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_errors(item, f"{path}[{index}]" if path else f"[{index}]"))
        return flat
    return {key: [str(detail)]}


def validation_error(error: DjangoValidationError, renames: dict[str, str] | None = None) -> exceptions.ValidationError:
    """Return a model-level ValidationError as the DRF one, with model field names mapped to API names
    (e.g. {"location": "geometry"})."""
    renames = renames or {}
    if hasattr(error, "error_dict"):
        detail = {renames.get(field, field): messages for field, messages in error.message_dict.items()}
    else:
        detail = {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return exceptions.ValidationError(detail)


def exception_handler(exc, context):
    """DRF's handler with the API's error body; also maps a body over the size limit to 413 and a stray
    model ValidationError to 400. Returns None (a logged 500) for anything else."""
    # Imported here: rest_framework.views reads the parser settings on import, and the parsers import this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = validation_error(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("Invalid input.", "invalid", flatten_errors(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data.get("detail", "")
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = error_body(detail, code)
        if isinstance(exc, ResyncRequired):
            response.data["last_event_id"] = exc.last_event_id
    return response
