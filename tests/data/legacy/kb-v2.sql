-- A kb database of schema v2 (PRAGMA user_version), as kbserver/store/db.py wrote it before Alembic
-- (commit 82341d4): made by kb's own functions (tokens.create, insert_query, insert_feedback,
-- insert_examples), then dumped with sqlite3's iterdump. tests/test_migrations.py loads it to check
-- that today's files migrate without losing a row.
PRAGMA user_version = 2;
BEGIN TRANSACTION;
CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            article_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('helpful', 'not_helpful', 'resolved_first_contact', 'escalated')),
            request_id TEXT,
            comment TEXT,
            caller TEXT NOT NULL
        );
INSERT INTO "feedback" VALUES(1,'2026-11-01T11:00:00.000000Z','delivery/where-is-my-order','Delivery team','helpful','req0',NULL,'helpdesk');
INSERT INTO "feedback" VALUES(2,'2026-11-02T11:00:00.000000Z','delivery/where-is-my-order','Delivery team','not_helpful','req1','comment <email>','helpdesk');
INSERT INTO "feedback" VALUES(3,'2026-11-03T11:00:00.000000Z','delivery/where-is-my-order','Delivery team','resolved_first_contact','req2',NULL,'helpdesk');
INSERT INTO "feedback" VALUES(4,'2026-11-04T11:00:00.000000Z','delivery/where-is-my-order','Delivery team','escalated','req3',NULL,'helpdesk');
CREATE TABLE learned_examples (
            id INTEGER PRIMARY KEY,
            ts TEXT NOT NULL,
            article_id TEXT NOT NULL,
            text TEXT NOT NULL,
            outcome TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('feedback', 'import')),
            source_key TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'removed')), caller TEXT NOT NULL DEFAULT '',
            UNIQUE (source, source_key)
        );
INSERT INTO "learned_examples" VALUES(1,'2026-11-02T12:00:00.000000Z','delivery/where-is-my-order','where is my parcel','resolved_first_contact','import','k1','active','import');
INSERT INTO "learned_examples" VALUES(2,'2026-11-02T12:00:00.000000Z','delivery/where-is-my-order','parcel 1 never arrived','helpful','feedback','req1:delivery/where-is-my-order','active','helpdesk');
CREATE TABLE query_log (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL UNIQUE,
            ts TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('search', 'suggest')),
            mode TEXT NOT NULL,
            text TEXT NOT NULL,
            results TEXT NOT NULL,
            no_confident_match INTEGER NOT NULL,
            caller TEXT NOT NULL
        );
INSERT INTO "query_log" VALUES(1,'req0','2026-11-01T10:00:00.000000Z','suggest','hybrid','parcel 0 never arrived','[{"id": "delivery/where-is-my-order", "score": 0.9}]',0,'helpdesk');
INSERT INTO "query_log" VALUES(2,'req1','2026-11-02T10:00:00.000000Z','suggest','hybrid','parcel 1 never arrived','[{"id": "delivery/where-is-my-order", "score": 0.8}]',0,'helpdesk');
INSERT INTO "query_log" VALUES(3,'req2','2026-11-03T10:00:00.000000Z','suggest','hybrid','parcel 2 never arrived','[{"id": "delivery/where-is-my-order", "score": 0.7}]',0,'helpdesk');
INSERT INTO "query_log" VALUES(4,'req3','2026-11-04T10:00:00.000000Z','suggest','hybrid','parcel 3 never arrived','[{"id": "delivery/where-is-my-order", "score": 0.6000000000000001}]',0,'helpdesk');
INSERT INTO "query_log" VALUES(5,'req4','2026-11-05T10:00:00.000000Z','suggest','hybrid','parcel 4 never arrived','[{"id": "delivery/where-is-my-order", "score": 0.5}]',1,'helpdesk');
CREATE TABLE tokens (
            name TEXT PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            scopes TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked TEXT
        );
INSERT INTO "tokens" VALUES('helpdesk','f27196a47c807f162d423d01d08673e02f5a02bc56859fbda9bca2e58f61501b','feedback,search,suggest','2026-12-03T14:19:40.658675Z',NULL);
INSERT INTO "tokens" VALUES('old-desk','75d0f126d521443ab8572e13ba80d56e021318def7be31d43d65ea7336c2484a','search','2026-12-03T14:19:40.662620Z','2026-12-03T14:19:40.665788Z');
CREATE INDEX query_log_ts ON query_log (ts);
CREATE INDEX feedback_ts ON feedback (ts);
CREATE INDEX feedback_owner_ts ON feedback (owner, ts);
CREATE INDEX feedback_request ON feedback (request_id);
CREATE INDEX learned_examples_article ON learned_examples (article_id, status);
CREATE INDEX learned_examples_caller ON learned_examples (caller, article_id, status);
COMMIT;
