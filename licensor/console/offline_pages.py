"""Air-gapped activation in the console (support and admin): paste or upload a machine's
activation request, get the license file bound to it — through the same service as
`POST /license_keys/offline_activations` (`license_desk/machine_file.py`). A read-only
staff member sees no form, and the POST refuses that role (`guard_post`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from licensor.console.confirm import acting
from licensor.console.forms import FormErrors
from licensor.console.session import Staff, allow, guard_post
from licensor.console.web import render
from licensor.kit.deps import request_origin
from licensor.kit.errors import LicensorError
from licensor.kit.origin import Origin, actor_of
from licensor.license_desk import machine_file
from licensor.license_desk.machine_schemas import OfflineActivationOut

router = APIRouter(prefix="/console", dependencies=[Depends(guard_post)])
PAGE = "offline_activation.html"
PATH = "/console/offline-activation"


@router.get("/offline-activation")
async def offline_activation_form(request: Request, staff: Staff) -> Response:
    return render(request, PAGE, staff, action=PATH, request_text="", done=None)


@router.post("/offline-activation")
@allow("admin", "support")
async def offline_activation(
    request: Request,
    staff: Staff,
    request_text: Annotated[str, Form(max_length=machine_file.TEXT_MAX)] = "",
    request_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The request from the text box, or else from the uploaded file; the answer shows
    what was activated and the license file to carry back to the machine."""
    text = request_text
    if not text.strip() and request_file is not None and request_file.filename:
        raw = await request_file.read(machine_file.TEXT_MAX + 1)
        text = raw.decode("ascii", errors="replace")
    who = acting(staff)
    found = request_origin(request)
    origin = Origin(actor_of(found), found.request_id, found.client_address)
    state = request.app.state
    try:
        done = await machine_file.activate(
            state.license_checks, state.signer, who.business_id, who.mode, text, origin
        )
    except LicensorError as exc:
        errors = FormErrors(fields={"request_text": f"{exc.message} ({exc.code})"})
        return render(
            request,
            PAGE,
            staff,
            status_code=exc.status_code,
            errors=errors,
            action=PATH,
            request_text=request_text,
            done=None,
        )
    return render(
        request,
        PAGE,
        staff,
        status_code=201,
        action=PATH,
        request_text="",
        done=OfflineActivationOut.of(done),
    )
