"""A study's use of the pseudonymisation engine: from raw transcript to approved research data.

Named apart from ``fieldvault.pseudonymise`` (the pure engine: text in, spans out); this
package is what a study does with it. One concern per module:

- ``terms``: the study's term list (offices, colleagues, places), sealed in the vault;
- ``known``: what the vault knows for a study (its sealed documents, the people it holds);
- ``numbering``: the study-wide placeholder book, the lock that keeps it whole, and every
  engine run of a study (each one numbers through the book);
- ``bundle``: the redaction map (review bundle) a transcript is reviewed from;
- ``job``: ``pseudonymise_transcript``, the idempotent job the worker runs, and what waits;
- ``review``: review items and the researcher's reject / accept / edit / redo;
- ``approval``: approving the reviewed text, which then becomes research data;
- ``reading``: a participant's transcripts read back, pseudonymised or raw;
- ``errors``: what the package refuses.

Where each thing lives (DESIGN.md's data classes):

- study terms and the placeholder book name real people and offices: sealed in the vault
  (``StudyDocuments``), never in the research database;
- a transcript's review bundle — the pseudonymised segments, every replacement with what it
  replaced, and the suspects left — is the *redaction map*: encrypted under the participant's
  ``redaction_map`` data key, so shredding the participant destroys it;
- only an approved pseudonymised transcript is written to the research database in the clear
  (``PseudonymisedTranscript.document``); approval refuses text that still holds a name or
  contact the vault knows for the study.

Audit events carry counts and categories, never text.
"""
