"""The gunicorn settings the service always runs with. The Procfile's `web:` line loads this module
(`-c python:idp.gunicorn_conf`) and passes itself what an operator tunes: bind, workers, threads."""

# A pool of threads in each worker (`--threads`, WEB_THREADS): a client that sends its request slowly
# holds one thread, not a whole worker, so a few slow clients cannot stop a small deployment from
# answering everyone else. The limit is workers x threads such clients at once; a buffering reverse
# proxy in front is what shields against many.
worker_class = "gthread"

# Launch links, SAML messages, codes and tokens are taken out of every access and error log line.
logger_class = "idp.gunicorn_logging.RedactingLogger"

# No control socket (gunicorn 25.1 and later open one by default). Its path is fixed per user, so every
# gunicorn the user runs claims the same socket, and the service is managed by signals alone.
control_socket_disable = True
