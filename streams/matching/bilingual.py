"""The one bilingual (Mandarin / English) text model of the rule, KB and strategy files.

Every editor-written text in those files is ``{zh: ..., en: ...}``: one message, title or
answer (:class:`LangText`, read in the call's language with :meth:`LangText.pick`), or a list
of phrases, questions or keywords that all count (:class:`LangList`).  Unknown keys are
refused, so a typo such as ``zn:`` is an error rather than a silently missing language.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class LangText(BaseModel):
    """One text in each language; either may be empty."""

    model_config = ConfigDict(extra="forbid")
    zh: str = ""
    en: str = ""

    def pick(self, language: str) -> str:
        """The text in ``language`` ("zh", "zh-CN", "en", ...), else the other one."""
        return (self.zh or self.en) if language.startswith("zh") else (self.en or self.zh)


class LangList(BaseModel):
    """Texts that all count (phrases, trigger questions, keywords), in either language."""

    model_config = ConfigDict(extra="forbid")
    zh: list[str] = []
    en: list[str] = []

    def all(self) -> list[str]:
        """Both languages' non-blank texts, Mandarin first."""
        return [x for x in (*self.zh, *self.en) if x.strip()]
