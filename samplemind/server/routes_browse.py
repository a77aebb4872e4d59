"""What a person browsing needs beside the list: facet counts for the current results
(Library.facets), and favourites, each account's own stars (Library.favourite; the query
fav:NAME).

Any signed-in role may star: a favourite changes nothing anyone else sees in their lists.
The account is the request's own (the name it logged in with, or its token's name; "local"
when the server runs without accounts), never a field of the request.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..library import Library
from ..models import versioned
from .auth import USER_KEY
from .http import context, json_call, sample_id, spliced_response
from .query_params import query_args
from .routes_samples import Q
from .routing import ID, VIEWER, Route

LOCAL = "local"  # the account of a server without the account layer, as auth.py names it


def account_of(request: web.Request) -> str:
    user = request.get(USER_KEY)
    return user["name"] if user else LOCAL


def _list(library: Library, account: str) -> dict[str, Any]:
    return versioned({"account": account, "ids": library.favourites(account)})


def _set(library: Library, account: str, ref: int, on: bool) -> dict[str, Any]:
    library.favourite(account, [ref], remove=not on)
    return versioned({"account": account, "id": ref, "favourite": on})


async def facets(request: web.Request) -> web.StreamResponse:
    # Kept per query while the catalog stays at its generation (query_cache.py).
    return await spliced_response(
        request, await context(request).pool.queries.facets(query_args(request)["q"]))


async def list_favourites(request: web.Request) -> web.StreamResponse:
    return await json_call(request, _list, account_of(request))


async def add_favourite(request: web.Request) -> web.StreamResponse:
    return await json_call(request, _set, account_of(request), sample_id(request), True)


async def remove_favourite(request: web.Request) -> web.StreamResponse:
    return await json_call(request, _set, account_of(request), sample_id(request), False)


ROUTES = [
    Route("GET", "/api/v1/facets", "facets", facets, VIEWER,
          "How the samples a query matches split: by_category, by_type, tags (the most used), "
          "folders (relative to their root), and the total.", (Q,)),
    Route("GET", "/api/v1/favourites", "favourites_list", list_favourites, VIEWER,
          "The ids of the samples this account starred, first starred first "
          "(list them with the query fav:ACCOUNT)."),
    Route("PUT", "/api/v1/favourites/{id}", "favourite_add", add_favourite, VIEWER,
          "Star a sample for this account (kept per account).", (ID,),
          responses={404: "No such sample."}),
    Route("DELETE", "/api/v1/favourites/{id}", "favourite_remove", remove_favourite, VIEWER,
          "Unstar a sample for this account.", (ID,), responses={404: "No such sample."}),
]
