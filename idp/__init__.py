"""A SAML 2.0 identity provider for brokerages: launch links, signed assertions, metadata."""

__version__ = "0.1.0"
