"""The yardstick: RSA-2048 (PKCS#1 v1.5, SHA-256) signatures per second on one core."""

from __future__ import annotations

import time

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def rsa2048_signs_per_second(seconds: float = 3.0) -> float:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = b"<ds:SignedInfo>" + b"x" * 400  # about the size of a SignedInfo
    signed = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        signed += 50
    return signed / (time.perf_counter() - start)
