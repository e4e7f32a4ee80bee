"""Security headers on every response: never framed (clickjacking), no content-type
guessing, no referrer beyond the panel, and HSTS in production (behind TLS).

The Content-Security-Policy forbids framing, plugins and foreign base URLs and
form targets; scripts stay allowed inline because Flask-AppBuilder's pages carry
inline scripts of their own."""

from __future__ import annotations

from flask import Flask

CONTENT_SECURITY_POLICY = (
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


def register_security_headers(app: Flask) -> None:
    hsts = app.config.get("STRICT_TRANSPORT_SECURITY")

    @app.after_request
    def secure(response):
        headers = response.headers
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
