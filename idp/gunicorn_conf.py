"""The gunicorn settings the service always runs with; the Procfile's `web:` line loads this module
(`-c python:idp.gunicorn_conf`) and passes what an operator tunes (bind, workers) itself."""

# Launch links, SAML messages, codes and tokens are taken out of every access and error log line.
logger_class = "idp.gunicorn_logging.RedactingLogger"
