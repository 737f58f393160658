"""The one database seam: the URL, connection set-up, transactions and the hot-path connections.

Locking model
-------------
PostgreSQL runs every transaction at READ COMMITTED: readers never wait for writers, and
code that must read a row and then change it consistently locks it with
``SELECT … FOR UPDATE``.

SQLite (WAL mode) gets the same visibility without ever taking its single write lock for
a read (``server.db.transactions``):

1. A transaction starts as a plain deferred ``BEGIN`` at its first *read*: it reads a
   snapshot beside any writer, waiting for nobody. Page views, reports, card and check
   reads and payload builds never take the write lock.
2. At its first *write* (INSERT/UPDATE/DELETE, DDL, a savepoint) the read snapshot ends
   and ``BEGIN IMMEDIATE`` takes the write lock, waiting at most ``BUSY_TIMEOUT_MS`` (or
   the URL's ``?timeout=``) for the writer before it. A transaction whose first statement writes starts there.
   Reads after that point see the newest data — what PostgreSQL's READ COMMITTED gives.
3. Where code locks rows with ``with_for_update()`` it first calls
   ``lock_for_write(db)``: on SQLite that takes the write lock at once (SQLite has no
   row locks), so the read-check-write that follows is serialised; on PostgreSQL the
   ``FOR UPDATE`` does that job.
4. The write lock is held from the first write to the commit: units of work that write
   prepare what they write first (payloads, mail, hashes), then write and commit.
5. A busy database that stays busy past the timeout is a clear 503 with ``Retry-After``
   for a request (``server.db.busy``), and nothing of the transaction is written;
   background work (nightly chunks, stores of rebuilt cards) waits and tries again.
   Bookkeeping a read does on the side (a session's last-seen time) is written in a
   transaction of its own that never waits (``transactions.without_waiting``) and is
   skipped while the database is busy: a page view is never a 503.

The hot paths (card lookup, marshal check, check log) skip the ORM: on SQLite one raw
``sqlite3`` connection on the event-loop thread, on PostgreSQL a small ``asyncpg`` pool
(``server.db.hot``). Every connection — ORM or raw — is prepared by
``server.db.sqlite.prepare``, from the one parsed URL in ``server.db.target``. The ORM's
SQLite connections are ``server.db.lean_sqlite``'s: one trip to the driver's thread per
statement (SQLAlchemy's own adapter makes four or five), or none for a loop that has a
thread to itself.
"""
