"""Content Security Policy helpers (the policy itself is settings.CONTENT_SECURITY_POLICY, via django-csp)."""

import base64
import hashlib
import re

from django.template.loader import get_template


def inline_style_sources(template_name: str) -> list[str]:
    """Return CSP hash sources ('sha256-...') allowing exactly the literal <style> blocks of a third-party
    template, for that page's style-src: the page works without 'unsafe-inline', and a changed block (a
    package upgrade) is refused rather than silently allowed."""
    source = get_template(template_name).template.source
    blocks = re.findall(r"<style[^>]*>(.*?)</style>", source, re.DOTALL)
    return [f"'sha256-{base64.b64encode(hashlib.sha256(block.encode()).digest()).decode()}'" for block in blocks]
