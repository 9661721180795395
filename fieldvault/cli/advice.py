"""What the command line adds to a fieldvault error: the command or flag that helps next.

The domain says what is wrong (``str(error)``) and tags it with a ``code`` and its ``facts``;
this table turns the code into advice in the CLI's own words. The bot and the web pages keep
tables of their own, so renaming a command changes this file only.
"""

from __future__ import annotations

from fieldvault.errors import FieldvaultError, with_advice

# code → advice; ``{name}`` placeholders are filled from the error's facts.
ADVICE: dict[str, str] = {
    "config.not_initialised": "run `fieldvault init` first",
    "storage.blob_store": (
        "check that the S3 server answers and that FIELDVAULT_BLOB_URL, "
        "FIELDVAULT_S3_ENDPOINT_URL and the S3 keys are right; nothing was stored half"
    ),
    "study.not_found": "`fieldvault study list` shows the registered studies",
    "study.already_registered": "use `fieldvault study update` to change it",
    "study.processing_end_changed": "use `fieldvault study extend`, which records the reason",
    "participant.not_found": "`fieldvault participants {study_id}` lists the codes",
    "participant.identity_refused": "correct --{field} and run the command again",
    "database.busy": "try again in a moment; another fieldvault process is writing",
    # Tokens, recordings and transcripts (domain/api_tokens.py, domain/recordings.py).
    "api_token.label_taken": (
        "`fieldvault researcher api-token {study_id} --revoke '{label}'` revokes it"
    ),
    # Only while the study has not been ended by the sweep (the refusal then names the date).
    "recording.study-ended": (
        "if Sikt has approved an end date later than {processing_end}, "
        "run `fieldvault study extend` first"
    ),
    "recording.interrupted": "run the upload again",
    "recording.too-long": (
        "cut it into parts (e.g. `ffmpeg -i FILE -f segment -segment_time 3600 -c copy "
        "part%02d.EXT`) and upload each, or raise FIELDVAULT_MAX_RECORDING_HOURS"
    ),
    "recording.too-many-tracks": (
        "upload at most {limit} files (one per speaker) per recording, or raise "
        "FIELDVAULT_MAX_RECORDING_TRACKS"
    ),
    "recording.bad-speakers": "give --speakers from 1 to {limit}, or leave it out",
    "transcript.not_found": "`fieldvault jobs {study_id}` shows the transcription jobs",
    # Speakers and interview metadata (domain/speakers.py, domain/interviews.py).
    "speaker.no_transcript": (
        "`fieldvault transcript show STUDY CODE` names each transcript's number"
    ),
    "speaker.unknown_label": "`fieldvault transcript speakers {transcript_id}` lists them",
    "speaker.bad_role": "give --role interviewer, informant or other",
    "speaker.bad_display": "give a shorter --display (at most {limit} characters)",
    "recording.not_found": "`fieldvault jobs` lists recordings with their numbers",
    "interview.bad_date": "give the day the interview took place, e.g. --date 2021-03-10",
    "interview.bad_mode": "give --mode in_person, video or phone",
    "interview.bad_interviewer": "give a short label such as initials (at most {limit})",
    "interview.bad_host_track": "count tracks from 1, in the order the files were uploaded",
    "recording.bad-interview": "correct the interview option and upload again; nothing was kept",
    # The study's pseudonymisation (domain/redaction/).
    "review.nothing_waiting": "`fieldvault jobs {study_id}` shows the transcription jobs",
    "review.unknown_item": "`fieldvault review {study_id} {participant}` lists items 1 to {count}",
    "review.not_a_replacement": (
        "`--edit N TEXT` writes TEXT in its place, `--accept N` keeps it as it is"
    ),
    "pseudonymisation.not_yet": (
        "run `fieldvault worker` (it pseudonymises after transcribing) or "
        "`fieldvault review {study_id} {participant}`, or add --raw for the raw text"
    ),
    "pseudonymisation.no_transcript": "`fieldvault jobs {study_id}` shows the transcription jobs",
    "pseudonymisation.raw_deleted": (
        "`fieldvault transcript show {study_id} {participant}` prints the pseudonymised one"
    ),
    "pseudonymisation.none_approved": (
        "`fieldvault review {study_id} {participant}` shows what waits for review"
    ),
    "retention.extension.no_reason": "give it with --reason",
    "retention.extension.not_later": "give a date after {processing_end} with --to",
    "retention.extension.deletion_begun": (
        "`fieldvault retention report {study_id}` shows what was deleted"
    ),
    "retention.extension.deadline_passed": (
        "`fieldvault retention run --dry-run` shows what the deletion removes"
    ),
    "retention.extension.too_far": "give a date up to {latest} with --to",
    "retention.extension.no_processing_end_line": (
        "add a processing_end line to the study file and run `fieldvault study update`"
    ),
    "retention.sweep_busy": (
        "run `fieldvault retention run` again when it has finished to see the outcome"
    ),
    # Informants' rights and researchers' links (domain/withdrawal.py, researcher_links.py).
    "consent.withdrawn": "`fieldvault retention report STUDY` lists the withdrawals",
    "researcher_link.invalid": (
        "create a new one with `fieldvault researcher link-code STUDY --label INITIALS`"
    ),
    "researcher_link.bad_label": "give --label, e.g. the researcher's initials",
    # The audit chain's checkpoints (storage/audit_checkpoints.py).
    "audit.checkpoints_missing": (
        "without a copy, `fieldvault audit checkpoint --new-file` starts a new file (a cut "
        "made before then stays unseen)"
    ),
    "audit.checkpoint_invalid": (
        "restore the file from your copy; a line a crash cut short may be removed by hand"
    ),
    "audit.chain_contradicts_checkpoint": (
        "`fieldvault audit verify` names the event; restore the research database from a backup"
    ),
    "audit.key_missing": "set FIELDVAULT_AUDIT_KEY_FILE to the audit key file",
    # Backups (domain/backups.py, storage/backups.py).
    "backup.damaged": "do not restore it; take `fieldvault backup verify` of another backup",
    "backup.key_destroyed": "restore a newer backup (`fieldvault backup verify` says its key)",
    "backup.not_sqlite": "README 'Backups' shows the pg_dump commands",
    "backup.inside_data_dir": "give a folder outside the data dir, on other storage",
    "backup.target_not_empty": "give a new folder, or empty {target} first",
    # Researcher accounts of the web app (domain/accounts.py).
    "account.role_unknown": "give --role owner, researcher, supervisor or dpo",
    "account.email_invalid": "give the researcher's e-mail address, e.g. kari@uni.example",
    "account.not_found": "`fieldvault researcher add EMAIL --study S --role R` creates it",
}


def describe(error: FieldvaultError) -> str:
    """The error's message followed by the CLI's advice for its code, when there is one."""
    return with_advice(error, ADVICE)
