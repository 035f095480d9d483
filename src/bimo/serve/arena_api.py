"""Routes of the voting page: a pair, a vote, the leaderboard."""

from __future__ import annotations

import asyncio
import re

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from bimo.serve.arena import Arena

router = APIRouter(prefix="/api/arena")


class VoteRequest(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    verdict: str = Field(pattern="^(a|b|tie|both_bad)$")
    voter: str = Field("anonymous", max_length=64)


def _arena(request: Request) -> Arena:
    return request.app.state.bimo.arena


@router.get("/pair")
async def pair(request: Request) -> dict:
    return await _arena(request).next_pair(request.client.host if request.client else "")


@router.post("/vote")
async def vote(body: VoteRequest, request: Request) -> dict:
    arena = _arena(request)
    voter = re.sub(r"[^A-Za-z0-9_.-]", "", body.voter)[:64] or "anonymous"
    reveal = await asyncio.to_thread(arena.vote, body.id, body.verdict, voter)
    board = await asyncio.to_thread(arena.leaderboard)
    return {"reveal": reveal, "leaderboard": board}


@router.get("/leaderboard")
async def leaderboard(request: Request) -> dict:
    return await asyncio.to_thread(_arena(request).leaderboard)


@router.get("/info")
def info(request: Request) -> dict:
    return {"enabled": _arena(request).enabled}
