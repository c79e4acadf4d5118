"""Strict JSON request parsing: the only body format the API accepts."""

import json
import math

from rest_framework import parsers
from rest_framework.exceptions import ParseError

from tracker.api.exceptions import RequestTooLarge, body_limit


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf without ever reaching parse_constant
        raise ValueError(f"number {text} is out of range")
    return value


class JSONParser(parsers.JSONParser):
    """RFC 8259 JSON only: refuses NaN, Infinity and numbers that overflow to infinity, nesting too deep to
    parse, undecodable text, and bodies over the API's size limit (413), each as a clear 4xx."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = body_limit()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise RequestTooLarge()
        try:
            text = raw.decode(parsers.get_encoding(parser_context or {}))
            return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except ValueError as exc:  # also UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None


class GeoJSONParser(JSONParser):
    """The same, for the GeoJSON media type (RFC 7946) that GIS clients send."""

    media_type = "application/geo+json"
