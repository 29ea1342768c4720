"""WeCom's side of the callback, for tests: builds messages and events as WeCom posts them,
encrypted and signed by the published algorithm.

Written independently of bot/channels/wecom/crypto.py (pycryptodome and hashlib here, `cryptography`
there), so that one misreading of the algorithm cannot hide in both. The algorithm, from
WeCom's 回调配置 page (https://developer.work.weixin.qq.com/document/path/90930):
msg_signature = sha1(sorted(token, timestamp, nonce, encrypt) joined); the AES key is
base64(EncodingAESKey + "="), the IV its first 16 bytes, AES-256-CBC, PKCS#7 to 32-byte
blocks; the plaintext is random(16) + length(4, big-endian) + message + receive id.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import os
import random
import struct
import time

import httpx
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

TOKEN = "HuibaoTestToken2026"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ"

_msg_ids = itertools.count(7_300_000_000_000_000_000 + random.randrange(10**12))


def sign(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def encrypt(aes_key: str, message: str, receive_id: str) -> str:
    key = base64.b64decode(aes_key + "=")
    body = message.encode()
    plain = os.urandom(16) + struct.pack("!I", len(body)) + body + receive_id.encode()
    cipher = AES.new(key, AES.MODE_CBC, key[:16])
    return base64.b64encode(cipher.encrypt(pad(plain, 32, style="pkcs7"))).decode()


def decrypt(aes_key: str, encrypted: str) -> tuple[str, str]:
    """(message, receive id)."""
    key = base64.b64decode(aes_key + "=")
    cipher = AES.new(key, AES.MODE_CBC, key[:16])
    plain = unpad(cipher.decrypt(base64.b64decode(encrypted)), 32, style="pkcs7")
    (length,) = struct.unpack("!I", plain[16:20])
    return plain[20 : 20 + length].decode(), plain[20 + length :].decode()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class WecomClient:
    """Posts callbacks to Huibao's callback URL as WeCom would."""

    def __init__(
        self,
        url: str,
        *,
        corp_id: str,
        agent_id: int,
        token: str = TOKEN,
        aes_key: str = AES_KEY,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = url
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.token = token
        self.aes_key = aes_key
        self.http = http or httpx.Client(timeout=15)

    # -- the parts ----------------------------------------------------------------------

    def inner(self, user: str, msg_type: str, fields: str, *, created: int | None = None) -> str:
        created = created if created is not None else int(time.time())
        return (
            f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName>"
            f"<FromUserName>{cdata(user)}</FromUserName><CreateTime>{created}</CreateTime>"
            f"<MsgType>{cdata(msg_type)}</MsgType>{fields}<AgentID>{self.agent_id}</AgentID></xml>"
        )

    def post(
        self,
        inner_xml: str,
        *,
        timestamp: int | str | None = None,
        nonce: str | None = None,
        signature: str | None = None,
        to_user: str | None = None,
        agent_id: str | None = None,
        receive_id: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST a callback; every part can be spoiled for the security tests."""
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        nonce = nonce if nonce is not None else str(random.randrange(10**9))
        encrypted = encrypt(self.aes_key, inner_xml, receive_id or self.corp_id)
        if body is None:
            envelope_agent = agent_id if agent_id is not None else str(self.agent_id)
            body = (
                f"<xml><ToUserName>{cdata(to_user or self.corp_id)}</ToUserName>"
                f"<Encrypt>{cdata(encrypted)}</Encrypt>"
                f"<AgentID>{cdata(envelope_agent)}</AgentID></xml>"
            ).encode()
        params = {
            "msg_signature": signature or sign(self.token, stamp, nonce, encrypted),
            "timestamp": stamp,
            "nonce": nonce,
        }
        return self.http.post(
            self.url, params=params, content=body, headers={"Content-Type": "text/xml"}
        )

    def verify_url(self, echo: str, *, signature: str | None = None) -> httpx.Response:
        """The GET the admin console sends when the URL is saved."""
        stamp, nonce = str(int(time.time())), str(random.randrange(10**9))
        encrypted = encrypt(self.aes_key, echo, self.corp_id)
        params = {
            "msg_signature": signature or sign(self.token, stamp, nonce, encrypted),
            "timestamp": stamp,
            "nonce": nonce,
            "echostr": encrypted,
        }
        return self.http.get(self.url, params=params)

    # -- what a member does -------------------------------------------------------------

    def text(self, user: str, content: str, *, msg_id: int | None = None) -> httpx.Response:
        msg_id = msg_id if msg_id is not None else next(_msg_ids)
        fields = f"<Content>{cdata(content)}</Content><MsgId>{msg_id}</MsgId>"
        return self.post(self.inner(user, "text", fields))

    def image(self, user: str, media_id: str) -> httpx.Response:
        fields = (
            f"<PicUrl>{cdata('https://example.invalid/pic.jpg')}</PicUrl>"
            f"<MediaId>{cdata(media_id)}</MediaId><MsgId>{next(_msg_ids)}</MsgId>"
        )
        return self.post(self.inner(user, "image", fields))

    def voice(self, user: str) -> httpx.Response:
        fields = (
            f"<MediaId>{cdata('VOICE1')}</MediaId><Format>{cdata('amr')}</Format>"
            f"<MsgId>{next(_msg_ids)}</MsgId>"
        )
        return self.post(self.inner(user, "voice", fields))

    def event(
        self, user: str, event: str, key: str = "", extra: str = "", *, created: int | None = None
    ) -> httpx.Response:
        fields = f"<Event>{cdata(event)}</Event><EventKey>{cdata(key)}</EventKey>{extra}"
        return self.post(self.inner(user, "event", fields, created=created))

    def press(
        self, user: str, task_id: str, key: str, response_code: str, *, created: int | None = None
    ) -> httpx.Response:
        """A button of a template card pressed (template_card_event)."""
        extra = (
            f"<TaskId>{cdata(task_id)}</TaskId><CardType>{cdata('button_interaction')}</CardType>"
            f"<ResponseCode>{cdata(response_code)}</ResponseCode>"
        )
        return self.event(user, "template_card_event", key, extra, created=created)
