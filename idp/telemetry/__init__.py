"""What the service tells its operators: Prometheus metrics, structured logs, audit events.

Nothing here knows the layers of the service; they call in with plain values. The protocol
(`idp.saml`) and the store stay free of it: the store is measured through a hook at its Backend
seam, signatures through a hook the Signer is given.
"""
