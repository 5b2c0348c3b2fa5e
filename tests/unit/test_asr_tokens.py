"""Whisper token bytes -> text at character boundaries: never U+FFFD (pure functions)."""

from __future__ import annotations

import random

import pytest

from models.whisper.tokens import REPLACEMENT, boundaries, clean_decode, group_at_boundaries, token_bytes

pytestmark = pytest.mark.unit

ALPHABET = "就是下雨也去退保犹豫期万能账户现金价值abc XYZ,.，。？😀é"


def _random_split(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = (
        sorted(rng.sample(range(1, len(data)), k=rng.randint(0, max(0, len(data) - 1))))
        if len(data) > 1
        else []
    )
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _random_groups(n: int, rng: random.Random) -> list[int]:
    sizes = []
    while n:
        k = rng.randint(1, min(3, n))
        sizes.append(k)
        n -= k
    return sizes


@pytest.mark.parametrize("seed", range(300))
def test_random_token_splits_give_the_text_back_in_whole_characters(seed):
    rng = random.Random(seed)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 25)))
    chunks = _random_split(text.encode(), rng)
    runs = group_at_boundaries(chunks, _random_groups(len(chunks), rng))
    assert "".join(t for _a, _b, t in runs) == text
    assert all(REPLACEMENT not in t for _a, _b, t in runs)
    # every run is whole characters: each is a substring that starts a character of the text
    pos = 0
    for _a, _b, t in runs:
        assert text[pos : pos + len(t)] == t
        pos += len(t)


@pytest.mark.parametrize("seed", range(300))
def test_invalid_bytes_are_dropped_never_replaced(seed):
    rng = random.Random(1000 + seed)
    pieces: list[bytes] = []

    for _ in range(rng.randint(1, 12)):
        if rng.random() < 0.35:  # stray bytes: truncated characters, continuation bytes, bad leads
            pieces.append(
                bytes(
                    rng.choice([0xE9, 0xB1, 0x80, 0xE4, 0xB8, 0xF0, 0xFF, 0xC0])
                    for _ in range(rng.randint(1, 3))
                )
            )
        else:
            c = rng.choice(ALPHABET)
            pieces.append(c.encode())
    data = b"".join(pieces)
    chunks = _random_split(data, rng)
    groups = _random_groups(len(chunks), rng)
    runs = group_at_boundaries(chunks, groups)
    joined = "".join(t for _a, _b, t in runs)
    assert REPLACEMENT not in joined
    assert joined == clean_decode(data)
    # runs cover groups in order, without overlap
    ends = [b for _a, b, _t in runs]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)
    for a, b, _t in runs:
        assert 0 <= a <= b < len(groups)


def test_the_casia_loop_bytes_give_no_replacement_character():
    # tokens the model produced on CASIA liuchanhg_angry_201: 就是 下 then E9 B1 E9 B1 ...
    chunks = ["就是".encode(), "下".encode(), *[b"\xe9", b"\xb1"] * 5]
    runs = group_at_boundaries(chunks, [1] * len(chunks))
    assert [t for _a, _b, t in runs] == ["就是", "下"]
    assert clean_decode(b"".join(chunks)) == "就是下"


def test_a_character_split_over_two_words_is_merged_into_one():
    yu = "雨".encode()  # 3 bytes
    chunks = [yu[:2], yu[2:] + "也".encode()[:1], "也".encode()[1:], "去".encode()]
    runs = group_at_boundaries(chunks, [1, 1, 1, 1])
    assert runs == [(0, 2, "雨也"), (3, 3, "去")]


def test_boundaries_and_byte_alphabet():
    assert boundaries("a雨".encode()) == {0, 1, 4}
    assert boundaries(b"\xe9\xb1") == {0, 1, 2}
    assert token_bytes(["Ġhello", "å°±"]) == [b" hello", "就".encode()]
    with pytest.raises(ValueError):
        group_at_boundaries([b"a", b"b"], [1])
