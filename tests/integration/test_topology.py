"""The compose topology on this machine: every process of docker-compose.yml, one scenario.

PostgreSQL (research database and vault apart, a role each), Redis (the queue), SeaweedFS (the
bucket), two `fieldvault web`, one `fieldvault bot` polling the Bot API stand-in, two
`fieldvault worker` and one `fieldvault scheduler`, all with the same FIELDVAULT_* settings
(``tests/topology.py`` starts them). A running study's informants consent; 20 recordings are
uploaded over HTTP to both web processes; one worker is SIGKILLed while it holds a job and the
other takes it over; every recording is transcribed and pseudonymised exactly once and no
object in the bucket holds a spoken word or an identity. Then the scheduler runs as of a time
after the end date (``scheduler --at``): the bucket empties, the vault holds nothing of the
study, the research data stays and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from fieldvault.config.settings import load_settings
from fieldvault.domain import api_tokens, consent
from fieldvault.domain.participants import get_participant, register_participant
from fieldvault.storage.db import transaction
from fieldvault.storage.models import (
    ConsentRecord,
    Participant,
    PseudonymisedTranscript,
    Recording,
    Transcript,
    TranscriptionJob,
    VaultIdentity,
    VaultStudyDocument,
    WrappedDataKey,
    utcnow,
)
from fieldvault.storage.services import Services, open_services
from fieldvault.storage.vault import Identity
from fieldvault.workers import weights
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.s3server import S3Server, running_s3_server, weed_binary
from tests.topology import REDIS_URL, Databases, LoopThread, Topology, base_env, free_port

from .conftest import EXAMPLE
from .recording_helpers import DATA

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STUDY = "nav-veileder"
INFORMANTS = 4
UPLOADS = 20
# Short real speech: mostly the two 3-second tracks, a few of the 15-second interview.
CLIPS = ["interview_en.ogg"] * 4 + ["track_informant.ogg", "track_interviewer.ogg"] * 8
# Words spoken in those clips (tests/data/*.txt); never in clear in any object of the bucket.
SPOKEN = [b"counselor", b"welfare", b"seven years", b"worked at the office", b"relationship"]
UPLOAD = "/api/studies/{study}/participants/{code}/recordings"
START_S, WORK_S, SWEEP_S = 90.0, 240.0, 90.0


def identity(n: int) -> Identity:
    return Identity(
        name=f"Ingvild Strandmoen{n}",
        email=f"ingvild{n}@topologi-eksempel.no",
        phone=f"+47 93 11 22 {n:02d}",
    )


def running_study(folder: Path, today: dt.date) -> tuple[Path, dt.date]:
    """The example study running today: started a month ago, ending in two months."""
    start, end = today - dt.timedelta(days=30), today + dt.timedelta(days=60)
    text = EXAMPLE.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^start_date = .*$", f"start_date = {start}", text)
    text = re.sub(r"(?m)^project_end = .*$", f"project_end = {today + dt.timedelta(days=30)}", text)
    text = re.sub(r"(?m)^processing_end = .*$", f"processing_end = {end}", text)
    assert f"processing_end = {end}" in text and f"start_date = {start}" in text
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path, end


def _required() -> None:
    from tests.topology import missing_servers

    reason = missing_servers()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the topology test: {reason}")
        pytest.skip(reason)


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    _required()
    binary = weed_binary()
    assert binary is not None
    with running_s3_server(binary, tmp_path / "s3") as server:
        yield server


@pytest.fixture
def databases() -> Iterator[Databases]:
    _required()
    made = Databases.create()
    try:
        yield made
    finally:
        made.drop()


@pytest.fixture
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    weights.install("base", folder)
    return folder


def objects(s3: S3Server, prefix: str) -> list[str]:
    client = s3.client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=s3.bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def count(services: Services, model: type, **where: object) -> int:
    with transaction(services.research) as session:
        query = select(func.count()).select_from(model).filter_by(**where)
        return int(session.scalar(query) or 0)


def vault_count(services: Services, model: type) -> int:
    with services.vault_sessions() as session:
        query = select(func.count()).select_from(model).filter_by(study_id=STUDY)
        return int(session.scalar(query) or 0)


def jobs(services: Services) -> list[TranscriptionJob]:
    with transaction(services.research) as session:
        return list(session.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id)))


def holds_pid(claimed_by: str | None, pid: int) -> bool:
    """Whether a job's claim (``host:pid``, perhaps more after it) names process ``pid``."""
    return claimed_by is not None and str(pid) in claimed_by.split(":")[1:]


def kill_while_holding(topology: Topology, services: Services, name: str) -> int:
    """SIGKILL worker ``name`` while it holds a running job; that job's id.

    The worker is paused (SIGSTOP) before the check that it still holds the job, so the job
    cannot finish between the check and the kill; if it had just finished, the worker resumes
    and the next job is awaited.
    """
    pid = topology.processes[name].popen.pid
    held: list[int] = []

    def holding() -> bool:
        held[:] = [
            j.id for j in jobs(services) if j.state == "running" and holds_pid(j.claimed_by, pid)
        ]
        return bool(held)

    deadline = time.monotonic() + WORK_S
    while time.monotonic() < deadline:
        topology.wait(holding, f"{name} to claim a job", WORK_S, [name], 0.05)
        topology.pause(name)
        if holding():
            topology.kill(name)
            [job_id] = held
            return job_id
        topology.resume(name)
    raise AssertionError(f"{name} held no job long enough to be killed in {WORK_S:.0f} s")


async def upload_all(ports: list[int], token: str, codes: list[str]) -> Counter[int]:
    """Upload the clips, alternating between the web processes; the statuses by port."""
    accepted: Counter[int] = Counter()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for n, clip in enumerate(CLIPS[:UPLOADS]):
            port, code = ports[n % len(ports)], codes[n % len(codes)]
            form = aiohttp.FormData(default_to_multipart=True)
            form.add_field("language", "en")
            form.add_field(
                "file", (DATA / clip).read_bytes(), filename="clip.ogg", content_type="audio/ogg"
            )
            async with http.post(
                f"http://127.0.0.1:{port}" + UPLOAD.format(study=STUDY, code=code),
                data=form,
                headers={"Authorization": f"Bearer {token}"},
            ) as response:
                body = await response.text()
                assert response.status == 201, (port, response.status, body[:300])
                accepted[port] += 1
    return accepted


def test_the_compose_topology_transcribes_once_survives_a_killed_worker_and_deletes_at_the_end(
    tmp_path: Path, s3: S3Server, databases: Databases, models: Path
) -> None:
    began = time.monotonic()
    prefix = f"topology-{os.getpid()}-{int(time.time())}"
    logs = tmp_path / "logs"
    logs.mkdir()
    env = base_env(tmp_path / "data") | {
        "FIELDVAULT_DATABASE_URL": databases.research_url,
        "FIELDVAULT_VAULT_URL": databases.vault_url,
        "FIELDVAULT_QUEUE_URL": REDIS_URL,
        "FIELDVAULT_BLOB_URL": f"s3://{s3.bucket}/{prefix}",
        "FIELDVAULT_S3_ENDPOINT_URL": s3.endpoint,
        "FIELDVAULT_S3_REGION": s3.region,
        "FIELDVAULT_S3_ACCESS_KEY_ID": s3.access_key,
        "FIELDVAULT_S3_SECRET_ACCESS_KEY": s3.secret_key,
        "FIELDVAULT_MODEL_DIR": str(models),
        "FIELDVAULT_WHISPER_THREADS": "1",
        "FIELDVAULT_TELEGRAM_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
    }
    topology = Topology(env, logs)
    aio = LoopThread()
    tg = FakeTelegram()
    services: Services | None = None
    try:
        aio.call(tg.start())
        env |= {
            "FIELDVAULT_TELEGRAM_BASE_URL": tg.base_url,
            "FIELDVAULT_TELEGRAM_BASE_FILE_URL": tg.base_file_url,
        }
        # The one-shot `migrate` service: keys and both databases, each as its own role.
        topology.fieldvault("init")
        study_file, processing_end = running_study(tmp_path, dt.date.today())
        topology.fieldvault("study", "create", str(study_file))
        services = open_services(load_settings(environ=env))
        now = utcnow()
        codes = [
            register_participant(services, STUDY, identity(n), {}, now) for n in range(INFORMANTS)
        ]
        for code in codes:
            with transaction(services.research) as session:
                person = get_participant(session, STUDY, code)
                consent.mark_informed(session, person, "en", now)
                consent.record_consent(
                    session,
                    person,
                    {"interview-recording": True, "identifiable-publication": False},
                    language="en",
                    channel="web",
                    letter_delivered_at=now,
                    now=now,
                )
        with transaction(services.research) as session:
            token = api_tokens.create_token(session, STUDY, "topology laptop", now)

        # The long-running services.
        ports = [free_port(), free_port()]
        for n, port in enumerate(ports, 1):
            topology.start(f"web-{n}", "web", FIELDVAULT_WEB_PORT=str(port))
        topology.start("bot", "bot")
        topology.start("scheduler", "scheduler")
        for n in (1, 2):
            topology.start(f"worker-{n}", "worker")
        for n in (1, 2):
            topology.wait_log(f"web-{n}", "web: listening", START_S)
        topology.wait(lambda: tg.polls > 0, "the bot to poll", START_S, ["bot"])
        topology.wait_log("scheduler", "retention sweep:", START_S)

        accepted = asyncio.run(asyncio.wait_for(upload_all(ports, token, codes), WORK_S))
        assert accepted == {ports[0]: UPLOADS // 2, ports[1]: UPLOADS // 2}

        # SIGKILL worker-1 while it holds a job; worker-2 takes the job over.
        killed_job = kill_while_holding(topology, services, "worker-1")

        def all_done() -> bool:
            states = Counter(j.state for j in jobs(services))
            assert states.keys() <= {"queued", "running", "done"}, states
            return states["done"] == UPLOADS and count(services, PseudonymisedTranscript) == UPLOADS

        topology.wait(
            all_done, "every recording transcribed and pseudonymised", WORK_S, ["worker-2"], 1.0
        )
        worked_s = time.monotonic() - began

        # Exactly once: one transcript and one pseudonymised transcript per recording.
        with transaction(services.research) as session:
            recordings = list(session.scalars(select(Recording.id)))
            per_recording = Counter(session.scalars(select(Transcript.recording_id)))
            per_transcript = Counter(session.scalars(select(PseudonymisedTranscript.transcript_id)))
            taken_over = session.get(TranscriptionJob, killed_job)
            assert taken_over is not None
            assert taken_over.attempts == 2 and taken_over.state == "done"
        assert len(recordings) == UPLOADS
        assert set(per_recording) == set(recordings) and set(per_recording.values()) == {1}
        assert len(per_transcript) == UPLOADS and set(per_transcript.values()) == {1}

        # No object holds a spoken word or an identity in clear.
        keys = objects(s3, prefix)
        assert keys
        secrets = [*SPOKEN]
        for n in range(INFORMANTS):
            who = identity(n)
            secrets += [(who.name or "").encode(), (who.email or "").encode()]
            secrets += [(who.phone or "").encode(), (who.phone or "").replace(" ", "").encode()]
        client = s3.client()
        for key in keys:
            data = client.get_object(Bucket=s3.bucket, Key=key)["Body"].read().lower()
            leaked = [s for s in secrets if s.lower() in data]
            assert not leaked, (key, leaked)
        assert vault_count(services, VaultIdentity) == INFORMANTS

        # One informant's transcripts are approved: research data, which the deadline keeps.
        topology.fieldvault("transcript", "approve", STUDY, codes[0])
        approved = count(services, PseudonymisedTranscript, study_id=STUDY, state="approved")
        assert approved == UPLOADS // INFORMANTS

        # Past the end date: the scheduler, restarted as of then, deletes the study's data.
        assert topology.stop("scheduler") == 0
        after = dt.datetime.combine(
            processing_end + dt.timedelta(days=2), dt.time(9, 0), tzinfo=dt.UTC
        )
        topology.start("scheduler-after", "scheduler", "--at", after.isoformat())

        def deleted() -> bool:
            return (
                not objects(s3, prefix)
                and vault_count(services, VaultIdentity) == 0
                and vault_count(services, WrappedDataKey) == 0
                and vault_count(services, VaultStudyDocument) == 0
            )

        topology.wait(deleted, "the sweep to delete the study's data", SWEEP_S, ["scheduler-after"])
        topology.wait_log("scheduler-after", "participant(s) deleted", SWEEP_S)
        assert "running as of" in topology.processes["scheduler-after"].text()
        # The research data stays: the participants (by code), their consent records, the
        # pseudonymised transcripts' rows.
        assert count(services, Participant, study_id=STUDY) == INFORMANTS
        assert count(services, ConsentRecord) == INFORMANTS
        assert count(services, PseudonymisedTranscript, study_id=STUDY) == UPLOADS
        with transaction(services.research) as session:
            kept = session.scalars(
                select(PseudonymisedTranscript.document).filter_by(study_id=STUDY, state="approved")
            ).all()
        assert len(kept) == approved and all(kept)
        assert "ok" in topology.fieldvault("audit", "verify").stdout.lower()
        print(f"topology: work done in {worked_s:.0f} s, all in {time.monotonic() - began:.0f} s")
    except BaseException:
        print(topology.tails())
        raise
    finally:
        topology.close()
        if services is not None:
            services.close()
        try:
            aio.call(tg.stop(), timeout=10)
        finally:
            aio.close()
        _forget_queue(env)


def _forget_queue(env: dict[str, str]) -> None:
    """Drop this test's huey keys from Redis (the queue is named after the research database)."""
    import redis

    from fieldvault.workers.queue import queue_name

    name = queue_name(load_settings(environ=env))
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    for key in client.scan_iter(match=f"*{name}*", count=500):
        client.delete(key)
