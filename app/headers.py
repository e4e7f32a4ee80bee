"""Security headers on every response: never framed (clickjacking), no content-type
guessing, no referrer beyond the panel, and HSTS in production (behind TLS).

The Content-Security-Policy forbids framing, plugins and foreign base URLs and
form targets; scripts stay allowed inline because Flask-AppBuilder's pages carry
inline scripts of their own.

Static files (the app's and Flask-AppBuilder's) may be reused for STATIC_MAX_AGE
seconds without asking again: otherwise every page revalidates its scripts and
style sheets before it can run them. Nothing else is cached (downloads hold
tenants' data)."""

from __future__ import annotations

from flask import Flask, request

CONTENT_SECURITY_POLICY = (
    "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
STATIC_MAX_AGE = 3600  # an upgrade's new assets reach every browser within the hour
STATIC_ENDPOINTS = {"static", "appbuilder.static"}  # the app's files, Flask-AppBuilder's


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
        if request.endpoint in STATIC_ENDPOINTS:
            response.cache_control.no_cache = None
            response.cache_control.max_age = STATIC_MAX_AGE
        return response
