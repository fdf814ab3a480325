"""Reporters, for reviewers: look one up, mark them abusive (their open reports are
invalidated), lift the mark."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from takedown.api.deps import CurrentReviewer, System, client_of
from takedown.api.errors import documented
from takedown.api.schemas import MarkAbusiveIn, MarkOut, ReporterOut, Sha256

router = APIRouter(prefix="/v1/reporters", tags=["moderation"])
ReporterKey = Annotated[Sha256, Path(description="The reporter's key, from a case's reports.")]


@router.get("/{reporter_key}", response_model=ReporterOut, summary="One reporter's record",
            responses=documented(401, 404, 422))
def reporter(system: System, reviewer: CurrentReviewer,
             reporter_key: ReporterKey) -> ReporterOut:
    """Whether the reporter is marked abusive, and how many reports they sent."""
    return ReporterOut(**system.reporter(reporter_key, reviewer))


@router.put("/{reporter_key}/abusive", response_model=MarkOut,
            summary="Mark a reporter abusive",
            responses=documented(400, 401, 403, 404, 413, 422))
def mark_abusive(request: Request, body: MarkAbusiveIn, system: System,
                 reviewer: CurrentReviewer, reporter_key: ReporterKey) -> MarkOut:
    """For child-safety specialists and admins. Every report of theirs on an open case
    stops counting towards priority and deadlines; a case left with no valid report
    and no hash match is set aside (closed, its restriction lifted), except a
    child-safety case, which still needs two specialists to dismiss it. Their later
    reports are stored and set aside as they arrive. Repeating it is harmless."""
    return MarkOut(**system.mark_reporter(reporter_key, reviewer, body.reason,
                                          client_of(request)))


@router.delete("/{reporter_key}/abusive", response_model=MarkOut,
               summary="Lift an abusive mark", responses=documented(401, 403, 404, 422))
def unmark_abusive(request: Request, system: System, reviewer: CurrentReviewer,
                   reporter_key: ReporterKey) -> MarkOut:
    """Their reports on cases still open count again; cases already set aside stay
    closed (a new report reopens them)."""
    return MarkOut(**system.unmark_reporter(reporter_key, reviewer, client_of(request)))
