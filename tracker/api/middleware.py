"""Keeps every answer under /api/ JSON, whatever part of the stack produced it."""

from django.http import JsonResponse

from tracker.api.exceptions import RequestTooLarge, body_limit, error_body, status_error_response

API_PREFIX = "/api/"
JSON_TYPES = ("application/json", "application/problem+json", "application/vnd.oai.openapi+json")


def declared_length(request) -> int:
    """Return the request's Content-Length, 0 if absent or malformed (the server then reads to the end)."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class ApiErrorsMiddleware:
    """Under /api/: refuses a body declared larger than the API reads (413, before anything reads it) or sent
    chunked without a length (411), and replaces any error response that is not JSON (Django's 400/403/404/500
    pages, the DEBUG pages, an unknown URL) with the API's JSON error body for the same status. Other paths
    pass through untouched."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        if declared_length(request) > body_limit():
            too_large = RequestTooLarge()
            return JsonResponse(error_body(too_large.detail, too_large.default_code), status=too_large.status_code)
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower() and not declared_length(request):
            # DRF reads a body only up to Content-Length: a chunked one would silently count as empty.
            return JsonResponse(
                error_body("Send the request body with a Content-Length header.", "length_required"), status=411
            )
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(JSON_TYPES):
            replacement = status_error_response(response.status_code)
            if response.has_header("Allow"):
                replacement["Allow"] = response["Allow"]
            return replacement
        return response
