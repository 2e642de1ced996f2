"""The floor of the stack: a WSGI callable with no Django at all, under the same gunicorn."""

BODY = b"<!doctype html><title>raw</title><p>raw wsgi</p>"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))])
    return [BODY]
