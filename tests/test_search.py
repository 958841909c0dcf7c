"""Table-driven tests of the pure search ranking (BM25F, stemming) and summaries.

agent_gateway.core.search and agent_gateway.core.bm25.
"""

from __future__ import annotations

import time

import pytest

from agent_gateway.core.errors import GatewayError, QueryTooLongError
from agent_gateway.core.search import (
    QUERY_MAX,
    SUMMARY_MAX,
    Candidate,
    check_query,
    rank,
    scores,
    summary,
    words,
)

C = Candidate

# A realistic catalogue: names and descriptions as the reference servers publish them.
CATALOGUE = [
    C("github", "create_issue", "Create a new issue in a GitHub repository."),
    C("github", "list_issues", "List issues in a GitHub repository with filtering options."),
    C("github", "get_issue", "Get details of a specific issue in a GitHub repository."),
    C("github", "create_pull_request", "Create a new pull request in a GitHub repository."),
    C("github", "search_repositories", "Search for GitHub repositories."),
    C("filesystem", "read_file", "Read the complete contents of a file from the file system."),
    C(
        "filesystem",
        "write_file",
        "Create a new file or completely overwrite an existing file with new content.",
    ),
    C(
        "filesystem",
        "list_directory",
        "Get a detailed listing of all files and directories in a specified path.",
    ),
    C(
        "filesystem",
        "search_files",
        "Recursively search for files and directories matching a pattern.",
    ),
    C("time", "get_current_time", "Get current time in a specific timezone"),
    C("time", "convert_time", "Convert time between timezones"),
    C("postgres", "query", "Run a read-only SQL query"),
    C("slack", "post_message", "Post a new message to a Slack channel"),
    C("slack", "list_channels", "List public channels in the workspace"),
    C("slack", "reply_to_thread", "Reply to a specific message thread in Slack"),
    C(
        "fetch",
        "fetch",
        "Fetches a URL from the internet and optionally extracts its contents as markdown.",
    ),
    C("memory", "create_entities", "Create multiple new entities in the knowledge graph"),
    C("brave-search", "brave_web_search", "Performs a web search using the Brave Search API"),
    C("everything", "echo", "Echoes back the input string"),
    C("everything", "get-sum", "Returns the sum of two numbers"),
    C(
        "memory",
        "add_observations",
        "Add new observations to existing entities in the knowledge graph",
    ),
    C(
        "sequential-thinking",
        "sequentialthinking",
        "A detailed tool for dynamic and reflective problem-solving through thoughts. "
        "Parameters: thought, nextThoughtNeeded, thoughtNumber, totalThoughts.",
    ),
    C("calculator", "calculate", "Calculates/evaluates the given expression."),
]


def first(query: str, items: list[Candidate] = CATALOGUE) -> tuple[str, str] | None:
    ranked = rank(query, items)
    return (ranked[0].server, ranked[0].name) if ranked else None


# ----- words ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("read_file", ["read", "file"]),
        ("get_current_time", ["get", "current", "time"]),
        ("getCurrentTime", ["get", "current", "time"]),
        ("GetCurrentTime", ["get", "current", "time"]),
        ("create-pull-request", ["create", "pull", "request"]),
        ("brave-search.web", ["brave", "search", "web"]),
        ("HTTPServer", ["http", "server"]),
        ("parseJSONData", ["parse", "json", "data"]),
        ("v2Api", ["v", "2", "api"]),
        ("Read the FILE, please!", ["read", "the", "file", "please"]),
        ("", []),
        ("  __--..  ", []),
    ],
)
def test_words_split_snake_kebab_and_camel_case(text: str, expected: list[str]) -> None:
    assert words(text) == expected


def test_words_are_lower_case() -> None:
    assert all(w == w.lower() for w in words("ListAllOpenPullRequests XML_HTTP-Request"))


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("issue", "list_issues"),
        ("issues", "get_issue"),
        ("file", "list_files"),
        ("channels", "get_channel"),
        ("running", "run_process"),
        ("directories", "create_directory"),
        ("repository", "list_repositories"),
        ("searching", "search_code"),
    ],
)
def test_words_of_one_stem_find_each_other(query: str, name: str) -> None:
    tool = C("s", name, "")
    assert scores(query, [tool, C("t", "other", "Something else.")])[0] > 0


# ----- ranking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("create issue", ("github", "create_issue")),
        ("open a new github issue", ("github", "create_issue")),
        ("list issues", ("github", "list_issues")),
        ("pull request", ("github", "create_pull_request")),
        ("search repositories", ("github", "search_repositories")),
        ("read file", ("filesystem", "read_file")),
        ("read a file", ("filesystem", "read_file")),
        ("write a file", ("filesystem", "write_file")),
        ("save text to a new file", ("filesystem", "write_file")),
        ("list directory", ("filesystem", "list_directory")),
        ("what is in this folder", ("filesystem", "list_directory")),
        ("search files", ("filesystem", "search_files")),
        ("current time", ("time", "get_current_time")),
        ("what time is it now", ("time", "get_current_time")),
        ("convert timezone", ("time", "convert_time")),
        ("sql query", ("postgres", "query")),
        ("run sql", ("postgres", "query")),
        ("post message", ("slack", "post_message")),
        ("send slack message", ("slack", "post_message")),
        ("reply thread", ("slack", "reply_to_thread")),
        ("slack channels", ("slack", "list_channels")),
        ("fetch url", ("fetch", "fetch")),
        ("web search", ("brave-search", "brave_web_search")),
        ("search the web", ("brave-search", "brave_web_search")),
        ("add two numbers", ("everything", "get-sum")),
        ("calc", ("calculator", "calculate")),
        ("think step by step", ("sequential-thinking", "sequentialthinking")),
        # Names typed the way code spells them.
        ("createIssue", ("github", "create_issue")),
        ("create-issue", ("github", "create_issue")),
        ("list_channels", ("slack", "list_channels")),
        ("readFile", ("filesystem", "read_file")),
        ("GET_CURRENT_TIME", ("time", "get_current_time")),
    ],
)
def test_the_obvious_tool_ranks_first(query: str, expected: tuple[str, str]) -> None:
    assert first(query) == expected, [(c.server, c.name) for c in rank(query, CATALOGUE)[:3]]


def test_a_plural_finds_the_tools_of_its_singular_first() -> None:
    ranked = rank("issues", CATALOGUE)
    assert {c.name for c in ranked[:3]} == {"create_issue", "list_issues", "get_issue"}


@pytest.mark.parametrize(
    "query", ["remember a fact", "knowledge graph", "memorize that Bob likes tea"]
)
def test_remembering_queries_find_the_memory_server(query: str) -> None:
    found = first(query)
    assert found is not None
    assert found[0] == "memory"


@pytest.mark.parametrize(
    "query", ["create issue", "current time", "post message", "read file", "sql query"]
)
def test_the_ranking_does_not_depend_on_catalogue_order(query: str) -> None:
    assert first(query) == first(query, list(reversed(CATALOGUE)))


@pytest.mark.parametrize("query", ["xyzzy", "kubernetes pods", "zzz qqq", "", "   ", "!!! ???"])
def test_no_match_gives_an_empty_list(query: str) -> None:
    assert rank(query, CATALOGUE) == []
    assert all(s == 0 for s in scores(query, CATALOGUE))


@pytest.mark.parametrize("query", ["apple", "tokyo weather", "install package"])
def test_a_short_word_in_a_tool_is_not_a_prefix_of_every_query_word(query: str) -> None:
    assert rank(query, CATALOGUE) == []


def test_no_tools_give_no_results() -> None:
    assert rank("read file", []) == []
    assert scores("read file", []) == []


def test_every_ranked_item_matches_and_unmatched_ones_are_left_out() -> None:
    ranked = rank("slack message", CATALOGUE)
    by_item = dict(zip(CATALOGUE, scores("slack message", CATALOGUE), strict=True))
    assert ranked
    assert all(by_item[c] > 0 for c in ranked)
    assert C("time", "convert_time", "Convert time between timezones") not in ranked
    ranked_scores = [by_item[c] for c in ranked]
    assert ranked_scores == sorted(ranked_scores, reverse=True)


def test_the_server_name_counts() -> None:
    ranked = rank("slack", CATALOGUE)
    assert [c.server for c in ranked[:3]] == ["slack", "slack", "slack"]
    assert {c.name for c in ranked[:3]} == {"post_message", "list_channels", "reply_to_thread"}


FILLER = [C("f", f"tool_{i}", f"Handles widget number {i}.") for i in range(5)]


@pytest.mark.parametrize(
    ("query", "better", "worse"),
    [
        # A word of the name beats the same word in the description.
        ("query", C("a", "query", "Does things."), C("b", "run", "Run a query.")),
        # The word itself beats a longer word that starts with it.
        ("files", C("s", "list_files", ""), C("s", "list_filesystems", "")),
        # Every query word counts: the tool that has more of them ranks higher.
        ("create issue", C("s", "create_issue", ""), C("s", "create_entities", "")),
        # A word of the query beats a word related to it.
        ("delete a file", C("s", "delete_file", ""), C("s", "remove_file", "")),
        # A rare word weighs more than a common one.
        ("widget parquet", C("s", "parquet_reader", ""), C("s", "widget_tool", "")),
        # A word of a short description weighs more than one lost in a long description.
        (
            "image",
            C("s", "tool_a", "Returns an image."),
            C("s", "tool_b", "Returns data. " + "It has many other words in it. " * 8 + "image"),
        ),
    ],
)
def test_the_better_match_ranks_higher(query: str, better: Candidate, worse: Candidate) -> None:
    items = [worse, better, *FILLER]
    found = scores(query, items)
    assert found[1] > found[0] > 0, found
    assert rank(query, items)[:2] == [better, worse]


@pytest.mark.parametrize(
    "items",
    [
        [C("a", "tool_one", "Does the time."), C("b", "tool_two", "Does the time.")],
        [C("b", "tool_two", "Does the time."), C("a", "tool_one", "Does the time.")],
        [C("x", "same", "same words"), C("y", "same", "same words"), C("z", "same", "same words")],
    ],
)
def test_ties_keep_the_input_order(items: list[Candidate]) -> None:
    query = "time" if "time" in items[0].description else "same"
    assert len(set(scores(query, items))) == 1
    assert rank(query, items) == items


def test_rank_returns_a_new_list_and_leaves_the_input_alone() -> None:
    items = list(CATALOGUE)
    ranked = rank("file", items)
    assert items == CATALOGUE
    assert ranked is not items


def test_a_changed_tool_list_is_ranked_by_its_own_words() -> None:
    before = [C("a", "alpha", "Reads mail."), C("b", "beta", "Sends mail.")]
    after = [C("a", "alpha", "Reads mail."), C("b", "beta", "Reads mail twice.")]
    assert rank("send mail", before)[0].name == "beta"
    assert rank("send mail", after)[0].name == "alpha"


# ----- stop words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("noisy", "plain"),
    [
        ("read the file", "read file"),
        ("show me the current time", "current time"),
        ("what is the time in tokyo", "time tokyo"),
        ("post a message to a channel", "post message channel"),
        ("get an issue from my repository", "issue repository"),
        ("list this directory", "list directory"),
        ("how do I search the web", "search web"),
    ],
)
def test_stop_words_do_not_change_scores(noisy: str, plain: str) -> None:
    assert scores(noisy, CATALOGUE) == scores(plain, CATALOGUE)


def test_a_query_of_only_stop_words_still_searches() -> None:
    # Nothing left after dropping stop words: the words themselves are used.
    items = [C("s", "tool", "Read the file."), C("t", "other", "Read a file.")]
    assert scores("the", items)[0] > 0
    assert scores("the", items)[1] == 0


def test_a_repeated_query_word_counts_once() -> None:
    assert scores("file file file", CATALOGUE) == scores("file", CATALOGUE)


# ----- bounds ---------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [QUERY_MAX + 1, 10_000, 2_000_000])
def test_a_query_over_1000_characters_is_refused_quickly(length: int) -> None:
    query = "read file " * (length // 10 + 1)
    query = query[:length]
    started = time.perf_counter()
    with pytest.raises(QueryTooLongError) as caught:
        rank(query, CATALOGUE)
    assert time.perf_counter() - started < 0.05
    assert isinstance(caught.value, GatewayError)
    assert str(caught.value) == (f"Query is {length:,} characters; the limit is 1,000. Shorten it.")


def test_a_query_of_1000_characters_is_searched() -> None:
    query = ("read file " * 100)[:QUERY_MAX]
    check_query(query)
    assert first(query) == ("filesystem", "read_file")


def test_ranking_500_tools_takes_well_under_50_ms() -> None:
    tools = [
        C(f"server{i % 50}", f"tool_{i}_{w}", f"Does {w} things with item {i}, then reports.")
        for i, w in enumerate(["read", "write", "list", "search", "delete"] * 100)
    ]
    rank("warm up", tools)  # the index is built once per tool list
    queries = ["read the items", "search things", "delete item 42", "report on it", "xyzzy"]
    started = time.perf_counter()
    for q in queries:
        rank(q, tools)
    assert (time.perf_counter() - started) / len(queries) < 0.05
    long = " ".join(f"word{i}x" for i in range(200))[:QUERY_MAX]
    started = time.perf_counter()
    rank(long, tools)
    assert time.perf_counter() - started < 0.25


# ----- summary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Create a new issue. Needs a token.", "Create a new issue."),
        ("Is it raining? Ask the weather.", "Is it raining?"),
        ("Stop! Then go.", "Stop!"),
        ("Get current time in a specific timezone", "Get current time in a specific timezone"),
        ("Uses API v1.2 of the service. More.", "Uses API v1.2 of the service."),
        ("Reads a file.\n\nArgs:\n  path: the file.", "Reads a file."),
        ("  Lots   of\n  spaces  here.  Second.", "Lots of spaces here."),
        ("Ends with a dot.", "Ends with a dot."),
        ("", ""),
        (None, ""),
    ],
)
def test_summary_is_the_first_sentence(description: str | None, expected: str) -> None:
    assert summary(description) == expected


def test_summary_does_not_end_at_an_abbreviation() -> None:
    assert summary("Search files, e.g. by name. Slow on large trees.") == (
        "Search files, e.g. by name."
    )


@pytest.mark.parametrize("length", [159, 160])
def test_summary_keeps_a_sentence_of_160_chars_or_less(length: int) -> None:
    text = "x" * (length - 1) + "."
    assert summary(text + " Next sentence.") == text


@pytest.mark.parametrize(
    "description",
    ["x" * 161, "word " * 100, "A very long first sentence " * 10 + ". Second.", "y" * 5000],
)
def test_summary_cuts_at_160_chars(description: str) -> None:
    result = summary(description)
    assert len(result) <= SUMMARY_MAX == 160
    assert result.endswith("…")
    assert description.replace(" ", "").startswith(result[:-1].replace(" ", ""))


def test_a_long_description_is_read_up_to_its_first_200_words() -> None:
    early = C("s", "early", "Parses parquet files. " + "More words here. " * 60)
    late = C("s", "late", "Handles files. " + "More words here. " * 80 + "Also parquet.")
    assert [c.name for c in rank("parquet", [early, late, *FILLER])] == ["early"]


@pytest.mark.anyio
async def test_the_gateway_refuses_a_long_query_before_asking_any_server() -> None:
    from agent_gateway.front.gateway import Gateway

    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"the gateway used {name} before checking the query")

    started = time.perf_counter()
    with pytest.raises(QueryTooLongError, match=r"Query is 2,000,000 characters"):
        await Gateway.list_tools(Untouchable(), None, "x" * 2_000_000, 50, None)  # type: ignore[arg-type]
    assert time.perf_counter() - started < 0.05
