"""gunicorn's settings for the bench: the command line gives the rest (bench/__main__.py).

Without a file named here gunicorn would read the project's ``gunicorn.conf.py``, whose
access log line per request and worker recycling (``max_requests``) would be measured too.
"""

accesslog = None
max_requests = 0
