"""WeCom's callback crypto (WXBizMsgCrypt), on the `cryptography` package.

The published algorithm (WeCom's "回调配置" page,
https://developer.work.weixin.qq.com/document/path/90930, and its 加解密库 samples):

* signature: SHA1 over the sorted, concatenated [token, timestamp, nonce, encrypted];
* key: base64(EncodingAESKey + "="), 32 bytes; IV: the key's first 16 bytes;
* AES-256-CBC with PKCS#7 padding to 32-byte blocks;
* plaintext: 16 random bytes, the message length (4 bytes, big-endian), the message,
  then the receive id (the corp id of a self-built app).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK_BITS = 256  # WeCom pads to 32 bytes, not AES's 16


class CryptoError(Exception):
    """A callback could not be verified or decrypted."""


def decode_aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind a 43-character EncodingAESKey."""
    if len(encoding_aes_key) != 43:
        raise ValueError("an EncodingAESKey has 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("an EncodingAESKey is made of A-Z, a-z, 0-9, + and /") from exc
    if len(key) != 32:  # pragma: no cover - 43 base64 characters always give 32 bytes
        raise ValueError("an EncodingAESKey decodes to 32 bytes")
    return key


class WecomCrypto:
    """Verifies, decrypts and encrypts callback payloads of one WeCom app."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self._token = token
        self._key = decode_aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode()

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """The msg_signature of a payload."""
        parts = sorted([self._token, timestamp, nonce, encrypted])
        return hashlib.sha1("".join(parts).encode()).hexdigest()

    def verify(self, signature: str, timestamp: str, nonce: str, encrypted: str) -> bool:
        """Whether `signature` was made with this app's token (constant-time comparison)."""
        expected = self.signature(timestamp, nonce, encrypted)
        return hmac.compare_digest(expected.encode(), signature.lower().encode())

    def decrypt(self, encrypted: str) -> str:
        """The message inside an Encrypt value or an echostr; raises CryptoError."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("not base64") from exc
        if not data or len(data) % 16:
            raise CryptoError("not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        padded = decryptor.update(data) + decryptor.finalize()
        unpadder = padding.PKCS7(BLOCK_BITS).unpadder()
        try:
            plain = unpadder.update(padded) + unpadder.finalize()
        except ValueError as exc:
            raise CryptoError("bad padding") from exc
        if len(plain) < 20:
            raise CryptoError("too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise CryptoError("bad length")
        if not hmac.compare_digest(receive_id, self._receive_id):
            raise CryptoError("meant for another receive id")
        try:
            return message.decode()
        except UnicodeDecodeError as exc:
            raise CryptoError("not UTF-8") from exc

    def encrypt(self, message: str, random: bytes | None = None) -> str:
        """Encrypt a message for this app (as WeCom does), base64-encoded."""
        body = message.encode()
        prefix = random if random is not None else os.urandom(16)
        plain = prefix + struct.pack(">I", len(body)) + body + self._receive_id
        padder = padding.PKCS7(BLOCK_BITS).padder()
        padded = padder.update(plain) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()
