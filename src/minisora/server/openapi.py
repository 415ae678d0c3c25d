"""The parts of the OpenAPI schema FastAPI cannot infer: the job form (parsed by hand as it
streams, see forms.py) and the upload for /v1/verify, both built from the limits in force."""

from __future__ import annotations

from typing import Any

from minisora.server.config import MODES, Limits
from minisora.server.forms import UPLOAD_SLOTS
from minisora.server.validation import DEFAULT_CFG, DEFAULT_STEPS, DEFAULT_STRENGTH, DIRECTIONS


def job_fields_schema(limits: Limits) -> dict[str, Any]:
    return {
        "mode": {"type": "string", "enum": list(MODES), "default": "text-to-video"},
        "prompt": {"type": "string", "maxLength": limits.max_prompt_chars,
                   "description": "what to show; needed by text-to-video and edit"},
        "width": {"type": "integer", "minimum": limits.min_side, "maximum": limits.max_side,
                  "multipleOf": 16, "default": 64},
        "height": {"type": "integer", "minimum": limits.min_side, "maximum": limits.max_side,
                   "multipleOf": 16, "default": 64},
        "seconds": {"type": "number", "minimum": limits.min_seconds, "maximum": limits.max_seconds,
                    "default": 4.0},
        "fps": {"type": "integer", "minimum": limits.min_fps, "maximum": limits.max_fps, "default": 16},
        "seed": {"type": "integer", "minimum": 0, "maximum": limits.max_seed,
                 "description": "random if left out; recorded with the job"},
        "negative": {"type": "string", "maxLength": limits.max_prompt_chars, "default": "",
                     "description": "what guidance steers away from (world model only)"},
        "steps": {"type": "integer", "minimum": 1, "maximum": limits.max_steps, "default": DEFAULT_STEPS,
                  "description": "sampling steps (world model only)"},
        "cfg": {"type": "number", "minimum": 0, "maximum": limits.max_cfg, "default": DEFAULT_CFG,
                "description": "guidance scale, 1 = none (world model only)"},
        "direction": {"type": "string", "enum": list(DIRECTIONS), "description": "extend only"},
        "strength": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": DEFAULT_STRENGTH,
                     "description": "edit only: 0 keeps the video, 1 ignores it"},
    }


def submit_job_openapi(limits: Limits) -> dict[str, Any]:
    fields = job_fields_schema(limits)
    files = {slot: {"type": "string", "format": "binary",
                    "description": f"accepted: {', '.join(suffixes)}; at most {limits.max_upload_bytes // 2**20} MiB"}
             for slot, suffixes in UPLOAD_SLOTS.items()}
    return {"requestBody": {"required": True, "content": {
        "multipart/form-data": {"schema": {"type": "object", "properties": {**fields, **files},
                                           "additionalProperties": False}},
        "application/json": {"schema": {"type": "object", "properties": fields, "additionalProperties": False}},
        "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": fields,
                                                         "additionalProperties": False}},
    }}}


def verify_openapi(limits: Limits) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "additionalProperties": False,
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": f"an MP4 video; at most {limits.max_upload_bytes // 2**20} MiB"}},
    }}}}}
