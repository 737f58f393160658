"""``python -m server.bench.served APP PORT WORKERS``: an ASGI app under uvicorn the way
``manage.py serve`` runs Tessera's (one write per response, ``server.web.one_write``;
no server header), without any access log: the benchmark's bare route, and Tessera's
app without the access log and background jobs, are served as Tessera is shipped."""

from __future__ import annotations

import sys

import uvicorn

from server.web.one_write import OneWriteHttpToolsProtocol


def main(argv: list[str]) -> None:
    app, port, workers = argv
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        workers=int(workers),
        http=OneWriteHttpToolsProtocol,
        access_log=False,
        log_level="warning",
        server_header=False,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
