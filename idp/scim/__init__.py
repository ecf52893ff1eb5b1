"""SCIM 2.0 provisioning (RFC 7643, RFC 7644): tokens per root brand, users and brands as resources."""
