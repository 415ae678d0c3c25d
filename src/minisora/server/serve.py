"""`minisora serve`: the app under uvicorn, until Ctrl-C or SIGTERM (both stop it cleanly)."""

from __future__ import annotations

from minisora.server.config import ServeConfig


def serve(config: ServeConfig) -> None:
    import uvicorn

    from minisora.server.app import create_app

    config.check()
    app = create_app(config)
    app.state.service.start()  # here, not in the lifespan, so a locked data folder is a plain error
    auth = "API key required (minisora keys create NAME)" if config.auth else "no auth (loopback only)"
    print(f"minisora: serving http://{config.host}:{config.port}/ with {config.workers} worker(s), "
          f"data in {config.data}, {auth}", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=5)
