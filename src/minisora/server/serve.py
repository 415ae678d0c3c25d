"""`minisora serve`: the app under uvicorn, until Ctrl-C or SIGTERM (both stop it cleanly)."""

from __future__ import annotations

from pathlib import Path

from minisora.server.config import ServeConfig


def serve(config: ServeConfig) -> None:
    import uvicorn

    from minisora.server.app import create_app

    config.check()
    app = create_app(config)
    app.state.service.start()  # here, not in the lifespan, so a locked data folder is a plain error
    auth = "API key required (minisora keys create NAME)" if config.auth else "no auth (loopback only)"
    model = service_model_line(app.state.service.model)
    print(f"minisora: serving http://{config.host}:{config.port}/ with {config.workers} worker(s), "
          f"data in {config.data}, {auth}, {model}", flush=True)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=5)


def service_model_line(model: Path | None) -> str:
    if model is None:
        return "no world model (text-to-video renders the world's scenes; other modes need --model DIR)"
    return f"world model {model} (every mode)"
