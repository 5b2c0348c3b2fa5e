"""Domain vocabulary: loading and reloading, prompt text, pinyin post-correction (pure logic + files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.asr.bias import DomainBias
from pipeline.asr.correction import Corrector
from pipeline.asr.settings import DEFAULT_VOCAB, AsrSettings
from pipeline.asr.vocab import VocabularySource, build_vocabulary, rule_terms
from streams.matching.versioned import FileFormatError

pytestmark = pytest.mark.unit

DATA = DEFAULT_VOCAB.parent.parent
TERMS = ["犹豫期", "退保", "万能账户", "现金价值", "返还", "人人贷", "开户", "挂失", "保费"]


@pytest.fixture(scope="module")
def corrector() -> Corrector:
    return Corrector(TERMS)


@pytest.mark.parametrize(
    ("heard", "fixed"),
    [
        ("这种保险本来就有反环，一年反个三千", "这种保险本来就有返还，一年反个三千"),
        ("你去下载人人代理财APP", "你去下载人人贷理财APP"),  # 3 toned syllables may cross a word boundary
        ("在尤域期内可以全额退保", "在犹豫期内可以全额退保"),
        ("我的卡要挂湿", "我的卡要挂失"),
        ("它的现今价值是多少", "它的现金价值是多少"),  # 4+ characters: toneless match
    ],
)
def test_near_homophones_become_domain_terms(corrector, heard, fixed):
    assert corrector.correct(heard) == fixed


@pytest.mark.parametrize(
    "ordinary",
    [
        "今天天气很好我们去公园玩",
        "现今的情况比较复杂",  # 现今 is a word (xian4 jin1 = 现金)
        "请您打开护照第一页",  # kai1 hu4 = 开户, but 开|护 cuts 打开|护照
        "由于时间关系",
        "我想推保这个事情",  # tui1 bao3 is not tui4 bao3: tones differ for short terms
        "犹豫期是十五天，退保有现金价值",  # terms spelt right are left alone
        "他的手艺很好",
        "Please call me back",
    ],
)
def test_ordinary_words_are_never_rewritten(corrector, ordinary):
    assert corrector.correct(ordinary) == ordinary
    assert corrector.find(ordinary) == []


def test_words_are_corrected_across_word_boundaries_one_for_one(corrector):
    words = ["这种", "保险", "有", "反", "环，", "一年"]
    out = corrector.correct_words(words)
    assert out == ["这种", "保险", "有", "返", "还，", "一年"]
    assert [len(w) for w in out] == [len(w) for w in words]


def test_ambiguous_and_non_chinese_terms_are_not_used():
    c = Corrector(["B款", "APP", "保费", "报废"])  # bao3 fei4 vs bao4 fei4: distinct keys
    assert c.terms == ("保费", "报废")
    assert Corrector(["期中", "期终"]).correct("七中") == "七中"  # same toned key for two terms: neither
    assert Corrector(["保费"], no_correct=["保费"]).correct("宝费") == "宝费"


def test_bundled_vocabulary_kb_and_rules_feed_the_terms():
    v = build_vocabulary([DEFAULT_VOCAB], DATA / "kb.yaml", DATA / "rules.yaml")
    zh = v.terms_for("zh")
    assert zh[:4] == ("犹豫期", "退保", "投保", "投保人")  # the vocabulary file comes first
    assert "定损" in zh and "万能账户" in zh  # KB keyword / vocabulary
    forbidden = {"保证收益", "稳赚不赔", "零风险"}
    assert not forbidden & set(zh)  # forbidden rule phrases never bias the decoder
    assert "free look period" in v.terms_for("en")
    prompt = v.prompt("zh", 3)
    assert prompt == "保险银行客服通话。犹豫期，退保，投保。"
    assert (
        v.prompt("en", 2)
        == "Insurance and banking customer service call. free look period, cooling-off period."
    )


def test_rule_terms_take_required_and_ordering_phrases_only(tmp_path: Path):
    f = tmp_path / "rules.yaml"
    f.write_text(
        "rules:\n"
        "  - {id: A, kind: forbidden, phrases: {zh: [保证收益]}}\n"
        "  - {id: B, kind: required, phrases: {zh: [本次通话将被录音]}}\n"
        "  - {id: C, kind: ordering, phrases: {zh: [提交]}, requires: {phrases: {zh: [核实身份]}}}\n",
        encoding="utf-8",
    )
    assert rule_terms(f) == {"zh": ["本次通话将被录音", "提交", "核实身份"]}


def test_broken_vocabulary_fails_at_start_and_keeps_the_old_one_on_reload(tmp_path: Path):
    f = tmp_path / "q.yaml"
    f.write_text("terms: {xx: [a]}\n", encoding="utf-8")
    with pytest.raises(FileFormatError, match="unknown language"):
        build_vocabulary([f])
    f.write_text("version: '1'\nterms: {zh: [犹豫期]}\n", encoding="utf-8")
    src = VocabularySource([f], None, None)
    bias = DomainBias(src, prompt_terms=5, reload_s=0)
    assert bias.prompt("zh") == "犹豫期。"
    assert bias.correct_text("在尤域期内", "zh") == "在犹豫期内"
    f.write_text("version: '2'\nterms: {zh: [万能账户]}\n", encoding="utf-8")
    os.utime(f, ns=(1, 2_000_000_000_000_000_000))
    assert bias.prompt("zh") == "万能账户。"  # reloaded on the next decode
    assert bias.correct_text("在尤域期内", "zh") == "在尤域期内"  # corrector rebuilt for the new terms
    f.write_text("terms: [not, a, mapping]\n", encoding="utf-8")
    os.utime(f, ns=(1, 3_000_000_000_000_000_000))
    assert bias.prompt("zh") == "万能账户。"  # broken edit: previous version keeps serving
    assert src.last_error


def test_bias_switches_and_english_untouched():
    v = build_vocabulary([DEFAULT_VOCAB])
    assert DomainBias(v, prompt=False).prompt("zh") == ""
    assert DomainBias(v, correct=False).correct_text("在尤域期内", "zh") == "在尤域期内"
    assert DomainBias(v).correct_words(["hello"], "en") == ["hello"]
    en_only = DomainBias(v, prompt_languages=("en",))
    assert en_only.prompt("zh") == "" and en_only.prompt("en").startswith("Insurance and banking")
    assert DomainBias(v, prompt_terms=0).prompt("zh") == "保险银行客服通话。"  # lead text alone


def test_settings_and_cli_vocab(tmp_path: Path):
    assert AsrSettings().vocab_paths() == [DEFAULT_VOCAB]
    assert AsrSettings(asr_vocab_files="").domain_bias() is None
    bias = AsrSettings().domain_bias()
    assert bias is not None and bias.prompt("zh") == bias.prompt("en") == ""  # measured default: no prompt
    assert bias.correct_text("在尤域期内", "zh") == "在犹豫期内"
    s = AsrSettings(
        asr_vocab_files=str(DEFAULT_VOCAB), asr_bias_prompt=True, asr_bias_prompt_terms=2
    )
    bias = s.domain_bias()
    assert bias is not None and bias.prompt("zh").endswith("犹豫期，退保。")
    from pipeline.asr.cli import main

    assert main(["transcribe", "--vocab", str(tmp_path / "missing.yaml"), str(tmp_path / "x.wav")]) == 1


def test_missing_kb_or_vocab_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(FileFormatError, match="cannot read"):
        VocabularySource([DEFAULT_VOCAB], tmp_path / "no-kb.yaml", None)
    with pytest.raises(FileFormatError, match="cannot read"):
        AsrSettings(asr_vocab_files=str(tmp_path / "none.yaml")).domain_bias()


def _vocab_file(tmp_path, name: str, queue_line: str, terms: list[str]):
    f = tmp_path / f"{name}.yaml"
    f.write_text(f'version: "1"\n{queue_line}\nterms:\n  zh: [{", ".join(terms)}]\n', encoding="utf-8")
    return f


def test_each_queue_gets_the_shared_files_and_its_own_and_unknown_queues_get_all(tmp_path):
    shared = _vocab_file(tmp_path, "shared", "", ["犹豫期"])
    claims = _vocab_file(tmp_path, "claims", "queue: claims", ["定损", "查勘员"])
    wealth = _vocab_file(tmp_path, "wealth", "queues: [wealth, vip]", ["万能账户"])
    v = build_vocabulary([shared, claims, wealth])
    assert set(v.queues) == {"claims", "wealth", "vip"}
    assert v.for_queue("claims").terms_for("zh") == ("犹豫期", "定损", "查勘员")
    assert v.for_queue("vip").terms_for("zh") == ("犹豫期", "万能账户")
    assert v.for_queue("").terms_for("zh") == v.for_queue("general").terms_for("zh") == (
        "犹豫期", "定损", "查勘员", "万能账户")  # no queue, or one no file names: every file, as before
    bias = DomainBias(v, prompt_terms=5)
    assert bias.prompt("zh", "claims") == "犹豫期，定损，查勘员。"
    assert bias.prompt("zh", "wealth") == "犹豫期，万能账户。"
    # the post-correction knows only the call's queue's terms
    assert bias.correct_text("我的万能帐户", "zh", "wealth") == "我的万能账户"
    assert bias.correct_text("我的万能帐户", "zh", "claims") == "我的万能帐户"  # not a claims term
    assert bias.correct_text("查勘圆今天来", "zh", "claims") == "查勘员今天来"
    assert bias.correct_text("查勘圆今天来", "zh", "wealth") == "查勘圆今天来"
    assert bias.correct_text("查勘圆今天来", "zh") == "查勘员今天来"  # the default has every file


def test_a_queue_name_must_be_a_name(tmp_path):
    bad = _vocab_file(tmp_path, "bad", "queue: [a, b]", ["犹豫期"])
    with pytest.raises(FileFormatError):
        build_vocabulary([bad])
