"""Several hosts, one truth (issue 19): two real `kb serve` processes sharing one PostgreSQL and one Redis.

What docs/deploy.md describes, run for real: host A (one process) and host B (gunicorn, two
workers) on their own ports, each with its own index root built by `kb index` from the same
articles and the same database, behind no balancer (the test is the balancer). The servers
here are the module's own, so the outage tests can stop them without disturbing the others.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
import requests

from indexer.embedding import BASE_MODEL

from conftest import DATA_ARTICLES, free_port, sql_rows
from servers import PostgresServer, RedisServer

pytestmark = pytest.mark.slow  # builds three indexes and starts three server processes

KB = str(Path(sys.executable).parent / "kb")
ODD_MESSAGE = "the purple zebra gizmo is doing the wobbly thing again"
TARGET = "products/gift-cards"
BUDGET = 12  # requests per token per day, across every host and worker


@dataclass
class Host:
    name: str
    url: str
    index: Path
    process: subprocess.Popen
    log: BinaryIO

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self.log.close()

    def get(self, path: str, token: str | None = None, **kwargs) -> requests.Response:
        return requests.get(self.url + path, headers=_auth(token), timeout=60, **kwargs)

    def post(self, path: str, body: dict, token: str | None = None) -> requests.Response:
        return requests.post(self.url + path, json=body, headers=_auth(token), timeout=60)

    def healthz(self) -> dict:
        return self.get("/healthz").json()


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


@dataclass
class Cluster:
    env: dict[str, str]
    articles: Path
    postgres: PostgresServer
    redis: RedisServer
    a: Host
    b: Host
    work: Path
    agent: str  # a token created before the hosts started, as agents' tokens are

    def kb(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([KB, *args], env=self.env, cwd=self.work, capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def index(self, host: Host) -> None:
        self.kb("index", "--articles", str(self.articles), "--index", str(host.index))

    def token(self, name: str, scopes: str = "search,suggest,feedback,reports") -> str:
        return self.kb("token", "create", "--name", name, "--scopes", scopes).stdout.strip()


def wait_until(check, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        time.sleep(0.1)


def start_host(name: str, index: Path, env: dict[str, str], work: Path, workers: int) -> Host:
    port = free_port()
    log = open(work / f"{name}.log", "wb")
    process = subprocess.Popen(
        [KB, "serve", "--index", str(index), "--port", str(port), "--workers", str(workers)],
        env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
    )
    host = Host(name, f"http://127.0.0.1:{port}", index, process, log)
    try:
        wait_until(lambda: process.poll() is None and host.get("/healthz").status_code == 200, f"host {name} up")
    except AssertionError:
        host.stop()
        raise AssertionError((work / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:]) from None
    return host


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, onnx_model):
    work = tmp_path_factory.mktemp("hosts")
    postgres = PostgresServer().initdb().start()
    redis = RedisServer().start()
    articles = work / "articles"  # one checkout, the same commit, for both hosts
    shutil.copytree(DATA_ARTICLES, articles)
    env = {
        **os.environ,
        "KB_DATABASE": postgres.url(),
        "KB_RATE_LIMIT_STORAGE": redis.url,
        "KB_RATE_LIMIT": f"{BUDGET} per day",
        "KB_ANONYMOUS_SCOPES": "search,suggest",
        "KB_RELOAD_INTERVAL_S": "0.2",
        "HF_HUB_OFFLINE": "1",
    }
    hosts: list[Host] = []
    try:
        for name in ("a", "b"):
            index = work / f"index-{name}"
            target = BASE_MODEL.onnx_file(index)  # the session's ONNX export, instead of exporting twice more
            target.parent.mkdir(parents=True)
            shutil.copyfile(onnx_model, target)
        cluster = Cluster(env, articles, postgres, redis, None, None, work, "")  # type: ignore[arg-type]
        for name, workers in (("a", 1), ("b", 2)):
            index = work / f"index-{name}"
            subprocess.run([KB, "index", "--articles", str(articles), "--index", str(index)], env=env, cwd=work,
                           check=True, capture_output=True, timeout=300)
            if name == "a":
                cluster.agent = cluster.token("agent-outage", "search,suggest,feedback")
            hosts.append(start_host(name, index, env, work, workers))
        cluster.a, cluster.b = hosts
        yield cluster
    finally:
        for host in hosts:
            host.stop()
        redis.remove()
        postgres.remove()


def test_both_hosts_built_from_the_same_commit_and_database_serve_the_same_fingerprint(cluster):
    a, b = cluster.a.healthz(), cluster.b.healthz()
    assert a["index_version"] != b["index_version"]  # two builds, made on two hosts
    assert a["fingerprint"] == b["fingerprint"] and len(a["fingerprint"]) == 64
    question = {"text": "my parcel never arrived and tracking has not moved for a week"}
    ranked = [[s["article"]["id"] for s in h.post("/api/v1/suggest", question).json()["suggestions"]]
              for h in (cluster.a, cluster.b)]
    assert ranked[0] == ranked[1] and ranked[0]


def test_a_token_created_on_host_a_works_on_host_b_and_its_revocation_reaches_both(cluster):
    secret = cluster.token("helpdesk-eu", "search")
    for host in (cluster.a, cluster.b):
        assert host.get("/api/v1/search", secret, params={"q": "refund"}).status_code == 200
    cluster.kb("token", "revoke", "helpdesk-eu")
    for host in (cluster.a, cluster.b):
        response = host.get("/api/v1/search", secret, params={"q": "refund"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"


def test_feedback_posted_to_a_appears_in_b_reports_and_report_page(cluster):
    agent, reporter = cluster.token("agent-reports"), cluster.token("reporter", "reports")
    sent = cluster.a.post("/api/v1/feedback", {"article_id": "returns/start-a-return", "outcome": "escalated",
                                               "comment": "label printer step is wrong"}, agent)
    assert sent.status_code == 201, sent.text
    rows = cluster.b.get("/api/v1/reports/articles", reporter, params={"team": "Returns team"}).json()["articles"]
    (row,) = [r for r in rows if r["id"] == "returns/start-a-return"]
    assert row["escalated"] == 1 and row["feedback"] == 1
    page = cluster.b.get("/reports", reporter, params={"team": "Returns team"})
    assert page.status_code == 200 and "label printer step is wrong" in page.text


def test_examples_learned_through_a_reach_b_after_its_next_kb_index(cluster):
    before = cluster.b.healthz()
    for name in ("agent-1", "agent-2"):  # two agents must agree before feedback teaches
        secret = cluster.token(name)
        answer = cluster.a.post("/api/v1/suggest", {"text": f"{ODD_MESSAGE} ({name})"}, secret).json()
        feedback = {"article_id": TARGET, "outcome": "resolved_first_contact", "request_id": answer["request_id"]}
        assert cluster.a.post("/api/v1/feedback", feedback, secret).json()["learned"] is True
    assert cluster.b.healthz()["examples"] == 0  # B's build is the old one until B builds again

    cluster.index(cluster.b)
    wait_until(lambda: cluster.b.healthz()["index_version"] != before["index_version"], "B serves its new build")
    after = cluster.b.healthz()
    assert after["examples"] == 2 and after["fingerprint"] != before["fingerprint"]
    top = cluster.b.post("/api/v1/suggest", {"text": ODD_MESSAGE}).json()["suggestions"][0]
    assert top["article"]["id"] == TARGET

    cluster.index(cluster.a)  # the same commit and database on A: the same content again
    wait_until(lambda: cluster.a.healthz()["fingerprint"] == after["fingerprint"], "A serves the same content as B")


def test_the_rate_limit_is_one_budget_across_both_hosts_and_all_workers(cluster):
    secret = cluster.token("limited", "search")
    hosts = [cluster.a, cluster.b]
    statuses = [hosts[i % 2].get("/api/v1/search", secret, params={"q": "refund"}).status_code for i in range(BUDGET)]
    assert statuses == [200] * BUDGET
    for host in hosts:  # with per-process counters each host would still have budget left
        response = host.get("/api/v1/search", secret, params={"q": "refund"})
        assert response.status_code == 429 and response.json()["error"]["code"] == "rate_limited"


def test_redis_unreachable_degrades_to_per_process_counting_not_errors(cluster):
    secret = cluster.token("during-redis-outage", "search")
    cluster.redis.stop()
    try:
        for host in (cluster.a, cluster.b, cluster.a):
            response = host.get("/api/v1/search", secret, params={"q": "refund"})
            assert response.status_code == 200, response.text
            assert response.json()["results"]
    finally:
        cluster.redis.start()


def test_postgresql_unreachable_index_still_answers_writes_503_and_nothing_acknowledged_is_lost(cluster):
    agent = cluster.agent
    revoked = cluster.token("revoked-before-outage", "search,internal")
    assert cluster.a.get("/api/v1/search", revoked, params={"q": "refund"}).status_code == 200
    cluster.kb("token", "revoke", "revoked-before-outage")
    kept = cluster.a.post("/api/v1/feedback", {"article_id": "delivery/where-is-my-order", "outcome": "helpful"}, agent)
    assert kept.status_code == 201
    count = "SELECT COUNT(*) AS n FROM feedback"
    stored_before = sql_rows(cluster.env["KB_DATABASE"], count)[0]["n"]

    cluster.postgres.stop()
    try:
        for host in (cluster.a, cluster.b):
            # Anonymous callers keep their answers from the index; a token cannot be checked, so it
            # fails closed (503): a revoked token never comes back from a stale copy (issue 34).
            suggest = host.post("/api/v1/suggest", {"text": "where is my parcel, it never came"})
            assert suggest.status_code == 200 and suggest.json()["suggestions"]
            for token in (agent, revoked):
                search = host.get("/api/v1/search", token, params={"q": "refund"})
                assert search.status_code == 503 and search.json()["error"]["code"] == "database_unavailable"
            refused = host.post("/api/v1/feedback", {"article_id": "returns/refund-policy", "outcome": "helpful"}, agent)
            assert refused.status_code == 503
            assert refused.json()["error"]["code"] == "database_unavailable"
        unknown = cluster.a.get("/api/v1/search", "kb_never-seen-token", params={"q": "refund"})
        assert unknown.status_code == 503  # a token kb cannot check is not waved through
        assert cluster.kb("token", "create", "--name", "x", "--scopes", "search", check=False).returncode == 1
    finally:
        cluster.postgres.start()

    assert sql_rows(cluster.env["KB_DATABASE"], count)[0]["n"] == stored_before  # no partial row
    ids = sql_rows(cluster.env["KB_DATABASE"], "SELECT id FROM feedback WHERE id = :id", id=kept.json()["id"])
    assert ids == [{"id": kept.json()["id"]}]
    for host in (cluster.a, cluster.b):  # and both hosts write again without a restart
        again = host.post("/api/v1/feedback", {"article_id": "returns/refund-policy", "outcome": "helpful"}, agent)
        assert again.status_code == 201, again.text

