"""Choosing the ranker (``serve --search``), and the semantic ranker inside a running gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import await_until, start_gateway, time_server

from agent_gateway import cli
from agent_gateway.core.search import Candidate
from agent_gateway.front.searching import Searcher, semantic_wanted
from agent_gateway.semantic import SemanticIndex

pytestmark = pytest.mark.anyio

# No word of it is in mcp-server-time's tools: only a ranker by meaning finds the clock.
CLOCK_QUERY = "what hour is it in Osaka"


@pytest.mark.parametrize(
    ("mode", "installed", "wanted"),
    [
        ("lexical", True, False),
        ("auto", True, True),
        ("auto", False, False),
        ("semantic", True, True),
    ],
)
def test_the_mode_and_the_extra_decide_the_ranker(
    monkeypatch: pytest.MonkeyPatch, mode: str, installed: bool, wanted: bool
) -> None:
    monkeypatch.setattr("agent_gateway.semantic.available", lambda: installed)
    assert semantic_wanted(mode) is wanted  # type: ignore[arg-type]


def test_serve_search_semantic_without_the_extra_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("agent_gateway.semantic.available", lambda: False)
    config = tmp_path / ".mcp.json"
    config.write_text('{"mcpServers": {}}')
    assert cli.main(["serve", "--config", str(config), "--search", "semantic"]) == 1
    assert "pip install 'agent-gateway[semantic]'" in capsys.readouterr().err


async def test_a_searcher_whose_model_is_not_loaded_ranks_by_words(tmp_path: Path) -> None:
    searcher = Searcher(SemanticIndex(tmp_path))
    tools = [Candidate("t", "get_sum", "Add numbers."), Candidate("t", "now", "The time.")]
    assert searcher.ranker == "semantic (loading)"
    assert await searcher.rank("add numbers", tools) == tools[:1]


async def test_a_gateway_with_the_semantic_ranker_finds_a_tool_no_query_word_names(
    tmp_path: Path,
) -> None:
    servers = {"time": time_server()}
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    async with start_gateway(tmp_path / "a", servers, args=["--search", "lexical"]) as gw:
        listed = await gw.data("list_tools", query=CLOCK_QUERY)
        assert listed["tools"] == []  # by words: nothing
    async with start_gateway(tmp_path / "b", servers, args=["--search", "semantic"]) as gw:

        async def clock_first() -> bool:
            tools = (await gw.data("list_tools", query=CLOCK_QUERY))["tools"]
            return bool(tools) and tools[0]["name"] == "get_current_time"

        await await_until(clock_first, timeout=30, what="the semantic ranker to find the clock")
        assert "Semantic ranker ready" in gw.stderr()


async def test_the_model_loads_only_after_the_start_delay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import contextlib
    import time

    from agent_gateway.front import searching
    from agent_gateway.semantic import load_embedder

    monkeypatch.setattr(searching, "LOAD_AFTER", 0.3)
    loaded_at: list[float] = []

    def loader() -> object:
        loaded_at.append(time.monotonic())
        return load_embedder()

    searcher = Searcher(SemanticIndex(tmp_path, loader=loader))  # type: ignore[arg-type]
    stop = asyncio.Event()
    started = time.monotonic()
    job = asyncio.create_task(searcher.run(stop))
    await await_until(lambda: searcher.ranker == "semantic", timeout=20, what="the model")
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await job
    assert loaded_at[0] - started >= 0.3
