"""Run 1EdTech's Open Badges 2.0 validator (PyPI ``openbadges``) offline and print its report as JSON.

Runs with tests/validator/.venv/bin/python, never with credflow's own interpreter:

    run_validator.py --data URL_OR_JSON_OR_JWS [--recipient PROFILE_JSON]
    run_validator.py --file BAKED_IMAGE

Offline: the validator fetches every URL through ``requests``. Here only loopback URLs reach the
network; the Open Badges JSON-LD contexts (``https://w3id.org/openbadges/v2`` and ``/v1``) are
answered from the copy shipped inside the validator package itself
(``openbadges.verifier.openbadges_context``); any other URL fails as a connection error.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _context_documents() -> dict[str, str]:
    from openbadges.verifier import openbadges_context as shipped  # type: ignore[import-not-found]

    documents = {shipped.OPENBADGES_CONTEXT_V2_URI: json.dumps(shipped.OPENBADGES_CONTEXT_V2_DICT)}
    v1 = getattr(shipped, "OPENBADGES_CONTEXT_V1_DICT", None)
    if v1 is not None:
        documents[shipped.OPENBADGES_CONTEXT_V1_URI] = json.dumps(v1)
    # The validator may ask with either scheme, with or without a trailing slash.
    return {
        variant: body for uri, body in documents.items() for variant in (uri, uri.replace("https://", "http://", 1))
    }


def _answer(request: PreparedRequest, body: str) -> Response:
    response = Response()
    response.status_code = 200
    response.reason = "OK"
    response._content = body.encode("utf-8")
    response.headers = CaseInsensitiveDict({"Content-Type": "application/ld+json"})
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


def install_offline_transport() -> None:
    """Route the validator's HTTP: loopback to the network, the OB contexts to the shipped copy, nothing else."""
    contexts = _context_documents()
    real_send = HTTPAdapter.send

    def send(self: HTTPAdapter, request: PreparedRequest, **kwargs: Any) -> Response:
        url = request.url or ""
        key = url.split("#", 1)[0].rstrip("/")
        if key in contexts:
            return _answer(request, contexts[key])
        if urlsplit(url).hostname in LOOPBACK:
            return real_send(self, request, **kwargs)
        raise requests.ConnectionError(f"offline validator run: refusing to fetch {url}")

    HTTPAdapter.send = send  # type: ignore[method-assign,assignment]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="an assertion URL, its JSON, or a JWS")
    source.add_argument("--file", help="a baked PNG or SVG badge")
    parser.add_argument("--recipient", help='a trusted recipient profile as JSON, e.g. {"email": "…"}')
    args = parser.parse_args()

    install_offline_transport()
    from openbadges import verify  # type: ignore[import-not-found]

    recipient = json.loads(args.recipient) if args.recipient else None
    if args.file:
        with open(args.file, "rb") as image:  # the validator wants a binary file object
            result = verify(image, recipient_profile=recipient)
    else:
        result = verify(args.data, recipient_profile=recipient)
    json.dump(result, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
