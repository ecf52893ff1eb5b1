"""SAML: launch links, assertions, signing and metadata; no web framework in here."""
