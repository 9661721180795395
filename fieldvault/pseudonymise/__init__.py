"""Pseudonymisation of transcripts and notes: a pure engine, its word lists and its labels.

Layout: ``engine`` (detection layers, spans, numbering), ``patterns`` (contacts and numbers),
``numbers`` (check digits), ``lexicon`` (packaged word lists, stop lists), ``labels``
(categories and placeholders per language), ``data/`` (generated lists, provenance inside).
A study's use of it (terms, numbering, review, approval) lives in ``fieldvault.domain.redaction``.
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
