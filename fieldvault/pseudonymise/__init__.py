"""Pseudonymisation of transcripts and notes: a pure engine, its word lists and its labels.

Layout: ``engine`` (detection layers, spans, numbering), ``patterns`` (contacts and numbers),
``numbers`` (check digits), ``lexicon`` (packaged word lists, stop lists), ``labels``
(categories and placeholders per language), ``data/`` (generated lists, provenance inside).
Storage and review live in ``fieldvault.domain.pseudonymisation``.
"""

from fieldvault.pseudonymise.engine import (
    Category,
    KnownPerson,
    PlaceholderBook,
    Result,
    Span,
    Suspect,
    Term,
    pseudonymise,
    pseudonymise_lines,
)

__all__ = [
    "Category",
    "KnownPerson",
    "PlaceholderBook",
    "Result",
    "Span",
    "Suspect",
    "Term",
    "pseudonymise",
    "pseudonymise_lines",
]
