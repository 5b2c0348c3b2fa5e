"""The pure parts of `callassist bench`: percentiles, dedup, the real-time verdict, the table."""

from __future__ import annotations

import math

import pytest

from bench.stats import (
    Dedup,
    LatencySummary,
    LevelResult,
    Observation,
    PhraseHit,
    ProcessUsage,
    ShownUpdate,
    capture_offsets,
    levels_json,
    max_sustained,
    parse_levels,
    percentile,
    phrase_observations,
    render,
    summarise,
)

pytestmark = pytest.mark.unit


def test_percentile_interpolates_like_numpy_and_is_nan_without_values():
    xs = [0.1 * i for i in range(1, 21)]  # 0.1 .. 2.0
    assert percentile(xs, 50) == pytest.approx(1.05)
    assert percentile(xs, 95) == pytest.approx(1.905)
    assert percentile([3.0], 95) == 3.0
    assert math.isnan(percentile([], 50))


def test_dedup_counts_a_redelivered_update_once():
    d = Dedup()
    assert d.add(Observation("final", "c1", "c1:agent:3", 0.8))
    assert not d.add(Observation("final", "c1", "c1:agent:3", 5.0))  # at-least-once copy
    assert d.add(Observation("partial", "c1", "c1:agent:3#1", 0.4))  # another kind, same segment
    assert [o.latency_s for o in d.items] == [0.8, 0.4] and d.duplicates == 1


def _level(calls: int, text: list[float], alert: list[float] = (), seen: int | None = None,
           late: float = 0.0) -> LevelResult:
    obs = [Observation("partial", "c", f"s{i}", x) for i, x in enumerate(text)]
    obs += [Observation("alert", "c", f"a{i}", x) for i, x in enumerate(alert)]
    return LevelResult(calls, 60.0, 70.0, summarise(obs), expected_calls_seen=calls if seen is None else seen,
                       max_replay_late_s=late)


def test_a_level_holds_only_when_every_target_holds():
    assert _level(1, [0.5] * 20, [0.05] * 5).sustained(3.0, 0.2) == (True, "")
    ok, why = _level(2, [0.5] * 18 + [4.0, 5.0]).sustained(3.0, 0.2)
    assert not ok and "word→screen p95" in why
    ok, why = _level(2, [0.5] * 20, [0.05, 0.9]).sustained(3.0, 0.2)
    assert not ok and "alert p95" in why
    ok, why = _level(4, [0.5] * 20, seen=3).sustained(3.0, 0.2)
    assert not ok and "1 call(s) without a final" in why
    assert "behind real time" in _level(4, [0.5] * 20, late=2.5).sustained(3.0, 0.2)[1]
    assert _level(1, []).sustained(3.0, 0.2) == (False, "no transcript")


def test_finals_falling_behind_break_real_time_even_when_partials_are_fast():
    obs = [Observation("partial", "c", f"p{i}", 0.3) for i in range(10)]
    obs += [Observation("final", "c", f"f{i}", 9.0) for i in range(5)]
    level = LevelResult(1, 60.0, 70.0, summarise(obs), expected_calls_seen=1)
    assert level.latency["partial"].p95 == pytest.approx(0.3)
    assert not level.sustained(3.0, 0.2)[0]


def test_calls_sustained_is_the_highest_level_below_which_all_held():
    levels = [_level(1, [0.5] * 10), _level(2, [0.9] * 10), _level(4, [6.0] * 10), _level(8, [0.5] * 10)]
    assert max_sustained(levels, 3.0, 0.2) == 2  # 8 "held" only by luck after 4 broke
    assert max_sustained([_level(1, [9.0])], 3.0, 0.2) == 0


def test_parse_levels_refuses_bad_input_clearly():
    assert parse_levels("4,1,2,2") == [1, 2, 4]
    for bad in ("", "0", "1,x", "-2"):
        with pytest.raises(ValueError, match="comma-separated positive integers"):
            parse_levels(bad)


def test_render_has_every_number_and_the_verdict():
    lv = _level(2, [0.0, 2.0], [0.04])
    lv.usage = [ProcessUsage("asr", 1.234, 1.9, 812.0, 800.0)]
    lv.notes = ["no UI process: receive times of a Kafka reader"]
    text = render([lv], {"machine": "test box"}, 3.0, 0.2)
    assert "calls sustained in real time: 2" in text
    assert "| 2 | 60 | 1.00 | 1.90 |" in text  # word→screen p50, p95
    assert "| 40 | 40 |" in text  # alert p50/p95 in ms
    assert "| 2 | asr | 1.23 | 1.90 | 812 | 800 |" in text
    assert "machine: test box" in text and "Kafka reader" in text
    assert LatencySummary.of([]).n == 0


def test_word_latency_counts_every_word_from_its_first_display():
    from bench.stats import ShownUpdate, word_observations

    # a 10 s turn captured at epoch 1000..1010 (call time 0..10); a partial covering audio to 4 s
    # arrives at 1005, the final (words ending at 2, 4, 9 s) at 1011, and is redelivered at 1020
    ups = [
        ShownUpdate("c", "s1", False, 4.0, 1004.0, (), 1005.0),
        ShownUpdate("c", "s1", True, 10.0, 1010.0, (2.0, 4.0, 9.0), 1011.0),
        ShownUpdate("c", "s1", True, 10.0, 1010.0, (2.0, 4.0, 9.0), 1020.0),
    ]
    obs = word_observations(ups)
    first = sorted(o.latency_s for o in obs if o.kind == "word")
    final = sorted(o.latency_s for o in obs if o.kind == "word_final")
    assert first == pytest.approx([1.0, 2.0, 3.0])  # 1005-1004, 1005-1002 ... the 9 s word waits for the final
    assert final == pytest.approx([2.0, 7.0, 9.0])  # 1011 - 1009, 1011 - 1004, 1011 - 1002
    # a level is judged on per-word latency when there is one, not on the per-update figure
    lv = LevelResult(1, 10.0, 12.0, summarise([*obs, Observation("final", "c", "s1", 1.0)]), expected_calls_seen=1)
    assert lv.latency["word"].p95 > lv.latency["final"].p95


def test_phrase_observations_use_the_call_capture_offset_and_skip_calls_without_one():
    ups = [ShownUpdate("c", "s1", True, 10.0, 1010.2, (), 1011.0), ShownUpdate("c", "s2", False, 12.0, 1012.2, (), 1013.0),
           ShownUpdate("probe", "p1", True, 3.0, 0.0, (), 50.0)]
    offsets = capture_offsets(ups)
    assert offsets == {"c": pytest.approx(1000.2)}
    obs = phrase_observations([PhraseHit("alert", "c", "a1", 11.0, 1012.7), PhraseHit("alert", "probe", "a2", 2.0, 51.0),
                               PhraseHit("suggestion", "c", "g1", 0.0, 1012.0)], offsets)
    assert [(o.kind, o.key, round(o.latency_s, 3)) for o in obs] == [("phrase_alert", "a1", 1.5)]


def test_levels_json_has_the_issue_schema_with_nulls_for_missing_figures():
    lv = _level(3, [0.5, 2.5], [0.04])
    doc = levels_json([lv], 3.0, 0.2)
    [row] = doc["levels"]
    for key in ("calls", "word_to_screen_p50_s", "word_to_screen_p95_s", "word_to_final_p95_s", "phrase_to_alert_p50_s",
                "phrase_to_alert_p95_s", "phrase_to_suggestion_p95_s", "realtime"):
        assert key in row, key
    assert row["calls"] == 3 and row["realtime"] is True and row["phrase_to_alert_p95_s"] is None
    assert doc["calls_sustained"] == 3


def test_levels_json_lists_every_phrase_slowest_first():
    phrases = [Observation("phrase_alert", "c1", "AG_X:c1:agent:3", 2.1), Observation("phrase_alert", "c1",
               "AG_Y:c1:agent:9", 16.4), Observation("phrase_suggestion", "c2", "c2:kb:refund:c2:customer:2", 1.7)]
    lv = _level(1, [0.5], [0.04])
    lv.phrases = phrases
    [row] = levels_json([lv], 3.0, 0.2)["levels"]
    assert [(p["kind"], p["id"], p["latency_s"]) for p in row["phrases"]] == [
        ("alert", "AG_Y:c1:agent:9", 16.4), ("alert", "AG_X:c1:agent:3", 2.1),
        ("suggestion", "c2:kb:refund:c2:customer:2", 1.7)]
