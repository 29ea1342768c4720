"""WeCom callback crypto: WeCom's own published examples, and round trips against an
independent implementation (tests/wecom_client.py, on pycryptodome)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.wecom.callback import MalformedXml, parse_envelope, parse_message
from bot.channels.wecom.crypto import CryptoError, WecomCrypto, decode_aes_key
from tests import wecom_client

# The sample of WeCom's 加解密库 (WXBizMsgCrypt Sample.py / Sample.java, "使用示例一/二").
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_CORP = "wx5823bf96d3bd56c7"
SAMPLE_ECHO = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3Qczc"
    "dCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLj"
    "vd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMn"
    "vw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k"
    "22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2Yoy"
    "yH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)


@pytest.fixture
def sample() -> WecomCrypto:
    return WecomCrypto(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_CORP)


def test_the_url_check_of_wecoms_sample(sample: WecomCrypto) -> None:
    signature = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
    assert sample.verify(signature, "1409659589", "263014780", SAMPLE_ECHO)
    assert sample.decrypt(SAMPLE_ECHO) == "1616140317555161061"
    assert wecom_client.decrypt(SAMPLE_KEY, SAMPLE_ECHO) == ("1616140317555161061", SAMPLE_CORP)


def test_the_message_of_wecoms_sample(sample: WecomCrypto) -> None:
    signature = "477715d11cdb4164915debcba66cb864d751f3e6"
    assert sample.signature("1409659813", "1372623149", SAMPLE_ENCRYPT) == signature
    assert not sample.verify(signature, "1409659814", "1372623149", SAMPLE_ENCRYPT)
    message = parse_message(sample.decrypt(SAMPLE_ENCRYPT))
    assert (message.from_user, message.msg_type, message.content) == ("mycreate", "text", "hello")
    assert (message.msg_id, message.create_time, message.agent_id) == (
        "4561255354251345929",
        1409659813,
        "218",
    )
    assert message.to_user == SAMPLE_CORP


@settings(max_examples=60, deadline=None)
@given(
    message=st.text(max_size=3000),
    timestamp=st.integers(0, 2**32).map(str),
    nonce=st.text("0123456789abcdef", min_size=1, max_size=12),
)
def test_round_trips_with_the_independent_client(message: str, timestamp: str, nonce: str) -> None:
    ours = WecomCrypto(wecom_client.TOKEN, wecom_client.AES_KEY, "ww1a2b3c4d5e6f7a8b")
    theirs = wecom_client.encrypt(wecom_client.AES_KEY, message, "ww1a2b3c4d5e6f7a8b")
    assert ours.decrypt(theirs) == message
    assert wecom_client.decrypt(wecom_client.AES_KEY, ours.encrypt(message)) == (
        message,
        "ww1a2b3c4d5e6f7a8b",
    )
    signature = wecom_client.sign(wecom_client.TOKEN, timestamp, nonce, theirs)
    assert ours.verify(signature, timestamp, nonce, theirs)
    assert not ours.verify(signature, timestamp, nonce + "0", theirs)


def test_what_is_not_for_us_is_refused(sample: WecomCrypto) -> None:
    other_corp = wecom_client.encrypt(SAMPLE_KEY, "<xml/>", "wwsomeoneelse")
    with pytest.raises(CryptoError, match="receive id"):
        sample.decrypt(other_corp)
    other_key = wecom_client.encrypt(wecom_client.AES_KEY, "<xml/>", SAMPLE_CORP)
    with pytest.raises(CryptoError):
        sample.decrypt(other_key)
    for garbage in ("", "not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(CryptoError):
            sample.decrypt(garbage)


@pytest.mark.parametrize("key", ["", "tooshort", SAMPLE_KEY + "A", SAMPLE_KEY[:-1] + "!"])
def test_a_bad_encoding_aes_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="EncodingAESKey"):
        decode_aes_key(key)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<xml><ToUserName>x</ToUserName></xml>",  # no Encrypt
        b"<html><Encrypt>x</Encrypt></html>",
        b'<!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Encrypt>&a;</Encrypt></xml>',  # entities
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
    ],
)
def test_malformed_or_dangerous_xml_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedXml):
        parse_envelope(body)


def test_messages_without_sender_or_type_are_refused() -> None:
    with pytest.raises(MalformedXml):
        parse_message("<xml><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>")
    with pytest.raises(MalformedXml):
        parse_message("<xml><FromUserName>a</FromUserName><MsgType>text</MsgType></xml>")
