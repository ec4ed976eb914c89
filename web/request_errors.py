"""A 422 for a request FastAPI could not validate that names each problem without echoing the input.

FastAPI's default handler sends every failing value back (a 5 MB file name came back in a 5 MB
answer) and fails with a 500 when the value is not JSON (``NaN`` in a JSON body).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from credflow.validation.inspect import printable

#: At most this many problems are listed; one is enough to fix, a few help.
MAX_PROBLEMS = 10


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [part if isinstance(part, int) else printable(str(part), 60) for part in error.get("loc", ())][:8],
        "msg": printable(str(error.get("msg", "")), 200),
        "type": printable(str(error.get("type", "")), 60),
    }


async def short_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer 422 listing where and what (never the input itself) for each failing field."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(status_code=422, content={"detail": [_problem(error) for error in errors[:MAX_PROBLEMS]]})
