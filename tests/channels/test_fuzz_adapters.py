"""Fuzzing the channels: random and hostile platform payloads, at the adapters' routes.

tests/core/test_fuzz.py drives the core with whole random sessions; here the adapters get what a
platform (or someone pretending to be one) can post: WeCom callback XML, correctly encrypted
and signed but with random types, users, times, fields and contents, and broken envelopes;
Telegram webhook bodies with random and malformed update JSON. After every post: the answer
is 2xx or 4xx, never 5xx (a 5xx makes the platform deliver the same thing again forever), and
nothing was logged at ERROR (a traceback is a bug here, not a refusal).

The normal run is short; `HUIBAO_FUZZ_EXAMPLES=N` runs N examples per test.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.channels.test_wecom import (  # noqa: F401  (fixtures)
    client,
    fake,
    leader_conversation,
    running,
    summary_kit,
    virtual,
)
from tests.core.test_fuzz import EXAMPLES, hostile_text
from tests.wecom_client import WecomClient, cdata


def _settings(quick: int) -> settings:
    return settings(
        max_examples=EXAMPLES or quick,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
        ],
    )


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """Records logged at ERROR or above while the test runs."""
    caplog.set_level(logging.WARNING)
    yield caplog.records
    caplog.clear()


def _no_errors(records: list[logging.LogRecord], what: str) -> None:
    bad = [r for r in records if r.levelno >= logging.ERROR]
    assert not bad, f"{what}: {bad[0].getMessage()[:300]}"


# -- WeCom --------------------------------------------------------------------------------

users = st.one_of(
    st.sampled_from(["LiHua", "zhangsan", "WangQiang"]),
    st.text(max_size=80),
    st.sampled_from(["", "a/b", "x" * 65, "用户 一", "<xml>", "]]>"]),
)
times = st.one_of(
    st.integers(1_700_000_000, 1_900_000_000).map(str),
    st.integers(-(10**12), 10**15).map(str),
    st.sampled_from(["", "abc", "9" * 400, "1e10", " 17 "]),
)
msg_types = st.sampled_from(["text", "image", "voice", "video", "location", "link", "event", "?"])
events = st.sampled_from(
    ["click", "enter_agent", "template_card_event", "subscribe", "view", "unknown", ""]
)


@st.composite
def inner_xml(draw: st.DrawFn) -> str:
    """A callback's decrypted XML, with random parts and random fields left out."""
    fields = {
        "ToUserName": cdata(draw(st.sampled_from(["CORP", "", "other"]))),
        "FromUserName": cdata(draw(users)),
        "CreateTime": draw(times),
        "MsgType": cdata(draw(msg_types)),
        "Content": cdata(draw(hostile_text)),
        "MsgId": draw(st.one_of(st.integers(0, 2**64).map(str), st.text(max_size=30))),
        "MediaId": cdata(draw(st.text(max_size=30))),
        "Event": cdata(draw(events)),
        "EventKey": cdata(draw(st.one_of(hostile_text, st.sampled_from(["/report", "report"])))),
        "TaskId": cdata(draw(st.text(max_size=40))),
        "ResponseCode": cdata(draw(st.text(max_size=40))),
        "AgentID": draw(st.sampled_from(["1000002", "", "-1", "9" * 50])),
    }
    kept = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)))
    random.Random(draw(st.integers(0, 1000))).shuffle(kept)
    body = "".join(f"<{name}>{fields[name]}</{name}>" for name in kept)
    root = draw(st.sampled_from(["xml", "xml", "xml", "root"]))
    return f"<{root}>{body}</{root}>"


@_settings(quick=40)
@given(inner=inner_xml())
def test_wecom_callbacks_with_random_contents_never_get_a_5xx(
    client: WecomClient,  # noqa: F811  (the fixture)
    errors: list[logging.LogRecord],
    inner: str,
) -> None:
    answer = client.post(inner.replace("CORP", client.corp_id))
    assert answer.status_code < 500, (answer.status_code, inner[:300])
    _no_errors(errors, inner[:200])


@_settings(quick=30)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=500).map(str.encode),
        st.builds(
            lambda a, b: f"<xml><Encrypt>{cdata(a)}</Encrypt><AgentID>{b}</AgentID></xml>".encode(),
            st.text(max_size=300),
            st.text(max_size=20),
        ),
    ),
    timestamp=st.one_of(st.none(), times),
    nonce=st.one_of(st.none(), st.text(max_size=80)),
    signature=st.one_of(st.none(), st.text(max_size=60)),
)
def test_wecom_envelopes_that_are_broken_never_get_a_5xx(
    client: WecomClient,  # noqa: F811  (the fixture)
    errors: list[logging.LogRecord],
    body: bytes,
    timestamp: str | None,
    nonce: str | None,
    signature: str | None,
) -> None:
    try:
        answer = client.post(
            "<xml/>", body=body, timestamp=timestamp, nonce=nonce, signature=signature
        )
    except (httpx.InvalidURL, UnicodeEncodeError):
        return  # a query the HTTP client itself cannot send
    assert answer.status_code < 500, (answer.status_code, body[:200])
    assert answer.status_code != 200 or body.startswith(b"<xml>")
    _no_errors(errors, repr(body[:200]))


# -- Telegram -----------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False),
        hostile_text,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=20,
)


@st.composite
def telegram_update(draw: st.DrawFn, date: int) -> bytes:
    """An update as Telegram (or someone with the secret) could post it, parts spoiled."""
    sender = {"id": draw(st.sampled_from([1001, 1002, 3001, 0, -5])), "is_bot": False}
    sender["first_name"] = draw(st.sampled_from(["李华", "", "\u202e王五\n系统通知"]))
    chat = {"id": sender["id"], "type": draw(st.sampled_from(["private", "group", "channel"]))}
    message = {
        "message_id": draw(st.one_of(st.integers(0, 2**40), JSON_VALUES)),
        "date": draw(st.one_of(st.just(date), st.integers(-(2**40), 2**40), JSON_VALUES)),
        "chat": draw(st.one_of(st.just(chat), JSON_VALUES)),
        "from": draw(st.one_of(st.just(sender), JSON_VALUES)),
        "text": draw(st.one_of(hostile_text, st.sampled_from(["/report", "/status", "跳过"]))),
        "photo": draw(JSON_VALUES),
        "caption": draw(hostile_text),
        "entities": draw(JSON_VALUES),
        "forward_origin": draw(JSON_VALUES),
    }
    kept = draw(st.lists(st.sampled_from(sorted(message)), unique=True))
    message = {k: message[k] for k in kept}
    kind = draw(
        st.sampled_from(["message", "edited_message", "callback_query", "channel_post", "x"])
    )
    if kind == "callback_query":
        body: object = {
            "id": draw(st.text(max_size=10)),
            "from": sender,
            "chat_instance": "1",
            "data": draw(hostile_text),
            "message": message,
        }
    else:
        body = message
    update: object = {"update_id": draw(st.one_of(st.integers(-(2**40), 2**40), JSON_VALUES))}
    assert isinstance(update, dict)
    update[kind] = draw(st.one_of(st.just(body), JSON_VALUES))
    if draw(st.booleans()):
        update = draw(st.one_of(st.just(update), JSON_VALUES))
    return json.dumps(update, ensure_ascii=False).encode()


@_settings(quick=6)
@given(data=st.data())
def test_telegram_webhook_bodies_never_get_a_5xx(
    conversation, fake_telegram, tmp_path, demo_org, clock, errors, data
) -> None:
    from tests.channels.test_telegram import _webhook_posts

    date = int(clock().timestamp())
    bodies = data.draw(st.lists(telegram_update(date), min_size=1, max_size=12))
    bodies += data.draw(st.lists(st.binary(max_size=200), max_size=2))
    statuses = _webhook_posts(conversation, fake_telegram, tmp_path / "photos", bodies)
    assert all(status in (200, 400) for status in statuses), list(
        zip(statuses, bodies, strict=True)
    )
    _no_errors(errors, repr(bodies)[:300])


@pytest.fixture
def fake_telegram(clock):
    from tests.fakes.telegram_api import FakeTelegram

    with FakeTelegram(clock=clock) as server:
        yield server
