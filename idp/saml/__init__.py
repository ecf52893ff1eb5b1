"""SAML 2.0 as pure protocol: build, sign, encrypt, parse, verify; metadata. No storage, no web framework."""
