"""The service: an HTTP API with a persistent SQLite job queue, API keys, and a web page.

    config.py      what it listens on and what a request may ask (ServeConfig, Limits, modes)
    db.py          the SQLite file: schema, connections, transactions (plain SQL)
    jobs.py        the queue: submit, claim, progress, finish exactly once, cancel, list
    keys.py        API keys, stored hashed
    forms.py       streaming form parsing: uploads go straight into the data folder
    validation.py  checking a job request; every refusal says what is allowed
    runner.py      doing one job (generate() with a world model); workers.py runs jobs in threads
    models.py      the world model: chosen at start-up, loaded once per worker
    service.py     the data folder, its lock, start-up recovery
    events.py      progress as server-sent events
    app.py         the routes and the page; serve.py runs them under uvicorn
"""

from minisora.server.config import Limits, ServeConfig

__all__ = ["Limits", "ServeConfig"]
