"""The HTTP API (versioned under /v1, described at /openapi.json) and the web page at /.

Routes are thin: parse and check the request (forms.py, validation.py), touch the queue
(jobs.py), answer. The work itself happens in the worker threads (workers.py).
"""

# No `from __future__ import annotations`: FastAPI reads the routes' annotations, which refer to
# the limits in force, a local of create_app.
import contextlib
import re
import secrets
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from minisora.server.auth import require_owner
from minisora.server.config import MODE_INPUTS, MODES, VIDEO_SUFFIXES, ServeConfig
from minisora.server.events import job_events
from minisora.server.forms import FormError, read_form
from minisora.server.jobs import Job, QueueFull, new_job_id
from minisora.server.openapi import submit_job_openapi, verify_openapi
from minisora.server.runner import VIDEO_NAME
from minisora.server.service import Service
from minisora.server.validation import check_job_request, check_prompt_renders, check_uploads
from minisora.server.verify import verify_upload

STATIC = Path(__file__).parent / "static"
JOB_ID = re.compile(r"job_[0-9a-f]{32}")
Owner = Annotated[str, Depends(require_owner)]


def error(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    return {status: {"description": description, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}}}}}


AUTH = error(401, "no API key, or an unknown one")
NOT_FOUND = error(404, "no job with this id for this key")


def create_app(config: ServeConfig) -> FastAPI:
    service = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        yield
        service.stop()

    app = FastAPI(title="minisora", version="1", lifespan=lifespan,
                  description="Text (and image, and video) to video with sound, as queued jobs.")
    app.state.service = service
    app.add_exception_handler(FormError, _form_error)
    app.add_exception_handler(405, _method_not_allowed)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_page_routes(app)
    _add_job_routes(app, service)
    _add_verify_route(app, service)
    return app


async def _form_error(request: Request, exc: FormError) -> JSONResponse:
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def _method_not_allowed(request: Request, exc: Exception) -> JSONResponse:
    """405 naming every method the path takes: Starlette's Allow lists only one route's methods."""
    methods = sorted({method for route in request.app.routes if isinstance(route, APIRoute)
                      and route.path_regex.match(request.url.path) for method in route.methods})
    return JSONResponse({"detail": f"{request.method} is not allowed here; use {', '.join(methods)}"},
                        status_code=405, headers={"Allow": ", ".join(methods)})


def _add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}


def _get_job(service: Service, job_id: str, owner: str) -> Job:
    job = service.store.get(job_id, owner) if JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise HTTPException(404, f"no job {job_id!r} for this key; list yours with GET /v1/jobs")
    return job


def _add_job_routes(app: FastAPI, service: Service) -> None:
    limits = service.config.limits

    @app.get("/v1/modes", tags=["jobs"], responses=AUTH)
    def modes(owner: Owner) -> dict[str, Any]:
        """The modes, the uploads each needs, and the limits on a job's parameters."""
        return {"modes": {mode: {"uploads": MODE_INPUTS[mode]} for mode in MODES},
                "limits": {name: getattr(limits, name) for name in limits.__dataclass_fields__}}

    @app.post("/v1/jobs", status_code=202, tags=["jobs"], openapi_extra=submit_job_openapi(limits),
              responses={**AUTH, **error(400, "a field or upload is not allowed; the message says why"),
                         **error(413, "an upload is too large"), **error(415, "an upload is not a video/image"),
                         **error(429, "this key already has its limit of queued jobs")})
    async def submit_job(request: Request, owner: Owner) -> JSONResponse:
        """Queue a job; answer 202 with its id (and a Location header to poll)."""
        job_id = new_job_id()
        folder = service.uploads / job_id
        try:
            if service.store.queued(owner) >= limits.max_queued_per_key:
                raise QueueFull(owner)  # refuse before reading the uploads; submit() checks again
            form = await read_form(request, folder, limits)
            job_request = check_job_request(form.fields, form.files, limits)
            await run_in_threadpool(check_uploads, job_request, limits)
            await run_in_threadpool(check_prompt_renders, job_request)
            inputs = {slot: path.name for slot, path in job_request.inputs.items()}
            job = await run_in_threadpool(service.store.submit, job_id, owner, job_request.mode, job_request.prompt,
                                          job_request.params, inputs, limits.max_queued_per_key)
        except QueueFull:
            shutil.rmtree(folder, ignore_errors=True)
            raise HTTPException(429, f"this key already has {limits.max_queued_per_key} queued jobs, the limit; "
                                     f"wait for some to start, or cancel some with DELETE /v1/jobs/ID") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        service.workers.wake()
        return JSONResponse(job.to_api(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})

    @app.get("/v1/jobs", tags=["jobs"], responses={**AUTH, **error(400, "a bad cursor")})
    def list_jobs(owner: Owner, limit: Annotated[int, Query(ge=1, le=limits.max_page)] = 20,
                  before: Annotated[int | None, Query(ge=0, le=2**62, description="the `next` of the previous page")] = None,
                  ) -> dict[str, Any]:
        """This key's jobs, newest first, a page at a time."""
        jobs, cursor = service.store.page(owner, limit, before)
        return {"jobs": [job.to_api() for job in jobs], "next": cursor}

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], responses={**AUTH, **NOT_FOUND})
    def get_job(job_id: str, owner: Owner) -> dict[str, Any]:
        """Status, progress, the refined prompt, timings, and the error if it failed."""
        return _get_job(service, job_id, owner).to_api()

    @app.get("/v1/jobs/{job_id}/events", tags=["jobs"], response_class=StreamingResponse,
             responses={**AUTH, **NOT_FOUND, 200: {"description": "server-sent events: `progress` "
                        "while queued or running, then one `end`; data is the job as JSON",
                                                   "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
    def job_progress(job_id: str, owner: Owner) -> StreamingResponse:
        _get_job(service, job_id, owner)
        return StreamingResponse(job_events(service.store, job_id, owner), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/v1/jobs/{job_id}/video", tags=["jobs"], response_class=FileResponse,
             responses={**AUTH, **NOT_FOUND, **error(409, "the job has no video (yet)"),
                        200: {"description": "the MP4", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}}})
    def job_video(job_id: str, owner: Owner, download: bool = False) -> FileResponse:
        """The finished video (H.264 + AAC MP4); `download=true` asks the browser to save it."""
        job = _get_job(service, job_id, owner)
        path = service.outputs / job.id / VIDEO_NAME
        if job.status != "done" or not path.is_file():
            raise HTTPException(409, f"job {job.id} is {job.status}; its video exists once it is done")
        name = f"minisora-{job.id[4:12]}-seed{job.params['seed']}.mp4"
        return FileResponse(path, media_type="video/mp4", filename=name,
                            content_disposition_type="attachment" if download else "inline")

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"],
                responses={**AUTH, **NOT_FOUND, **error(409, "the job has already ended")})
    def cancel_job(job_id: str, owner: Owner) -> dict[str, Any]:
        """Cancel a queued or running job."""
        job = _get_job(service, job_id, owner)
        if not service.store.cancel(job.id, owner):
            raise HTTPException(409, f"job {job.id} has already ended ({service.store.get(job.id, owner).status}); "
                                     f"there is nothing to cancel")
        return service.store.get(job.id, owner).to_api()


def _add_verify_route(app: FastAPI, service: Service) -> None:
    limits = service.config.limits

    @app.post("/v1/verify", tags=["provenance"], openapi_extra=verify_openapi(limits),
              responses={**AUTH, **error(400, "no file"), **error(413, "the file is too large"),
                         **error(415, "not a video")})
    async def verify(request: Request, owner: Owner) -> dict[str, Any]:
        """The provenance verdict on an uploaded video: its watermark and its signed manifest."""
        folder = service.data / "verify" / secrets.token_hex(8)
        try:
            form = await read_form(request, folder, limits, slots={"file": VIDEO_SUFFIXES}, allow_json=False)
            if set(form.fields):
                raise FormError(400, f"unknown field {sorted(form.fields)[0]!r}; send only the upload 'file'")
            if "file" not in form.files:
                raise FormError(400, "upload the video to check as the form field 'file'")
            return await run_in_threadpool(verify_upload, form.files["file"], limits)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
