"""Notes on the replies a run had to mend before recording them: usage figures the server
gave missing or unsound, recorded as null (`usage_flags`), and replies cut at the size limit
before the template was looked for (`truncated`). Each note appears only when it counts any."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from benchmark.records.tables import MAX_REPLY_CHARS


def usage_flag_counts(attempts: pd.DataFrame) -> Counter[str]:
    """How many attempts carry each flag ("output_tokens=not an integer" -> 3)."""
    flags = attempts.get("usage_flags", pd.Series(dtype=object)).dropna()
    return Counter(flag for text in flags for flag in str(text).split("; ") if flag)


def mended_notes(attempts: pd.DataFrame) -> list[str]:
    """One line per kind of mending the run's attempts record; none when nothing was mended."""
    notes = []
    flagged = int(attempts.get("usage_flags", pd.Series(dtype=object)).notna().sum())
    if flagged:
        kinds = ", ".join(f"{flag} ({n})" for flag, n in usage_flag_counts(attempts).items())
        notes.append(
            f"{flagged} attempts had usage figures from the server that were missing or "
            f"unsound, recorded as null ({kinds}); a call with a null token count has no cost."
        )
    truncated = attempts.get("truncated", pd.Series(dtype=object)).fillna(False).astype(bool)
    # `truncation` says why (issue 19): reply_chars is this cut; max_tokens is the model
    # stopped at its token limit, counted per group in the cost section. Rows written before
    # the column have only `truncated`, which meant this cut.
    kind = attempts.get("truncation", pd.Series(None, index=attempts.index, dtype=object))
    cut = int((truncated & (kind.isna() | (kind == "reply_chars"))).sum())
    if cut:
        notes.append(
            f"{cut} attempts had replies cut at {MAX_REPLY_CHARS:,} characters: the template "
            f"was looked for in the first {MAX_REPLY_CHARS:,} only."
        )
    limited = int((kind == "max_tokens").sum())
    if limited:
        notes.append(
            f"{limited} attempts stopped at the model's token limit (truncation max_tokens): "
            "their templates may be cut; raise model.max_tokens or use model.max_tokens=auto."
        )
    return notes
