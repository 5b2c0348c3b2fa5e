"""Provisional alerts from stable partial text, through the real worker and the embedded broker.

One utterance's partial raises the alert while it is being said; its final confirms it
under the same ``alert_id``.  Another's final no longer contains the phrase: a retraction
record with the same id comes out, and the call summary (QA) carries it.
"""

from __future__ import annotations

import time
import uuid

import pytest
from test_streams_worker import Bus, Worker, streams_settings, worker  # noqa: F401  (fixtures)

from streams.contract.records import CallEvent, TranscriptSegment, Word
from streams.platform.stream_settings import StreamsSettings

pytestmark = pytest.mark.integration


def record(call_id: str, seg_id: str, text: str, *, final: bool, stable: str = "", start: float = 10.0,
           rev: int = 0) -> bytes:
    words, t = [], start
    for i, w in enumerate(text.split(" ")):
        piece = (" " if i else "") + w
        words.append(Word(start=t, end=t + 0.3, text=piece))
        t += 0.3
    return TranscriptSegment(
        call_id=call_id, channel="agent", segment_id=seg_id, is_final=final, start=start, end=t, text=text,
        language="en", words=[] if final else words, revision=rev, produced_at=time.time(),
        stable_len=len(stable),
    ).to_bytes()


async def test_partial_alert_is_confirmed_under_its_id_or_retracted_by_the_final(
    worker: Worker, streams_settings: StreamsSettings  # noqa: F811
) -> None:
    s = streams_settings
    call = f"call-{uuid.uuid4().hex[:6]}"
    first, second = f"{call}:agent:10000", f"{call}:agent:30000"
    phrase = "This plan has guaranteed returns"
    async with Bus(s, worker) as bus:
        def mine() -> list:  # deadline alerts (greeting, disclosure) come too
            return [a for a in bus.got["alerts"] if a.rule_id == "AG_GUARANTEED_RETURN"]

        await bus.send(s.topic_transcripts, call, record(call, first, phrase + " and", final=False, stable="This"))
        await bus.send(s.topic_transcripts, call, record(call, first, phrase + " and no", final=False,
                                                         stable=phrase, rev=1))
        await bus.wait_for(lambda: len(mine()) >= 1, within=120)
        [prov] = mine()
        assert (prov.rule_id, prov.provisional, prov.retracted, prov.alert_id) == (
            "AG_GUARANTEED_RETURN", True, False, f"AG_GUARANTEED_RETURN:{first}")

        await bus.send(s.topic_transcripts, call, record(call, first, phrase + " and no fees.", final=True))
        await bus.wait_for(lambda: len(mine()) >= 2, within=30)
        confirmed = mine()[1]
        assert (confirmed.alert_id, confirmed.provisional, confirmed.retracted) == (prov.alert_id, False, False)

        await bus.send(s.topic_transcripts, call, record(call, second, "It is risk free so", final=False,
                                                         stable="It is risk free", start=30.0))
        await bus.wait_for(lambda: len(mine()) >= 3, within=30)
        prov2 = mine()[2]
        assert prov2.provisional and prov2.alert_id.endswith(second)
        await bus.send(s.topic_transcripts, call, record(call, second, "It is not risk free, to be clear.",
                                                         final=True, start=30.0))
        await bus.wait_for(lambda: len(mine()) >= 4, within=30)
        retraction = mine()[3]
        assert (retraction.alert_id, retraction.retracted, retraction.provisional) == (prov2.alert_id, True, False)

        await bus.send(s.topic_events, call, CallEvent(call_id=call, kind="ended", ts=time.time(),
                                                       duration=40.0).to_bytes())
        await bus.wait_for(lambda: len(bus.got["qa_calls"]) >= 1, within=30)
        [summary] = bus.got["qa_calls"]
        by_id = {a.alert_id: a for a in summary.alerts}
        assert by_id[prov.alert_id].retracted is False and by_id[prov.alert_id].provisional is False
        assert by_id[prov2.alert_id].retracted is True
        assert len(summary.transcript) == 2  # finals only
    # one alert id per phrase: the updates re-used the ids
    assert len({a.alert_id for a in bus.got["alerts"]} - {a.alert_id for a in summary.alerts}) == 0
