"""Table-driven tests of the pure search ranking and summaries (agent_gateway.core.search)."""

from __future__ import annotations

import pytest

from agent_gateway.core.search import SUMMARY_MAX, Candidate, rank, score, summary, words

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


@pytest.mark.parametrize(
    ("plural", "singular"),
    [("issues", "issue"), ("files", "file"), ("channels", "channel"), ("messages", "message")],
)
def test_plural_and_singular_words_match_each_other(plural: str, singular: str) -> None:
    item = C("s", f"list_{plural}", "")
    assert score(singular, item) > 0
    assert score(plural, C("s", f"get_{singular}", "")) > 0


def test_words_are_lower_case() -> None:
    assert all(w == w.lower() for w in words("ListAllOpenPullRequests XML_HTTP-Request"))


# ----- ranking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("create issue", ("github", "create_issue")),
        ("open a new github issue", ("github", "create_issue")),
        ("list issues", ("github", "list_issues")),
        ("issues", ("github", "list_issues")),
        ("pull request", ("github", "create_pull_request")),
        ("search repositories", ("github", "search_repositories")),
        ("read file", ("filesystem", "read_file")),
        ("read a file", ("filesystem", "read_file")),
        ("write a file", ("filesystem", "write_file")),
        ("list directory", ("filesystem", "list_directory")),
        ("search files", ("filesystem", "search_files")),
        ("current time", ("time", "get_current_time")),
        ("what time is it", ("time", "get_current_time")),
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
        ("knowledge graph", ("memory", "create_entities")),
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


@pytest.mark.parametrize(
    "query", ["create issue", "current time", "post message", "read file", "sql query"]
)
def test_the_ranking_does_not_depend_on_catalogue_order(query: str) -> None:
    assert first(query) == first(query, list(reversed(CATALOGUE)))


@pytest.mark.parametrize("query", ["xyzzy", "kubernetes pods", "zzz qqq", "", "   ", "!!! ???"])
def test_no_match_gives_an_empty_list(query: str) -> None:
    assert rank(query, CATALOGUE) == []
    assert all(score(query, c) == 0 for c in CATALOGUE)


@pytest.mark.parametrize("query", ["apple", "tokyo weather", "install package"])
def test_a_short_word_in_a_tool_is_not_a_prefix_of_every_query_word(query: str) -> None:
    assert rank(query, CATALOGUE) == []


def test_every_ranked_item_matches_and_unmatched_ones_are_left_out() -> None:
    ranked = rank("slack message", CATALOGUE)
    assert ranked
    assert all(score("slack message", c) > 0 for c in ranked)
    assert C("time", "convert_time", "Convert time between timezones") not in ranked
    scores = [score("slack message", c) for c in ranked]
    assert scores == sorted(scores, reverse=True)


def test_the_server_name_counts() -> None:
    ranked = rank("slack", CATALOGUE)
    assert [c.server for c in ranked[:3]] == ["slack", "slack", "slack"]
    assert {c.name for c in ranked[:3]} == {"post_message", "list_channels", "reply_to_thread"}


def test_a_name_match_beats_a_description_match() -> None:
    by_name = C("a", "query", "Does things.")
    by_description = C("b", "run", "Run a query.")
    assert score("query", by_name) > score("query", by_description) > 0
    assert rank("query", [by_description, by_name]) == [by_name, by_description]


def test_an_exact_word_beats_a_prefix() -> None:
    exact = C("s", "list_files", "")
    prefix = C("s", "list_filesystems", "")
    assert score("files", exact) > score("files", prefix) > 0


def test_matching_more_query_words_ranks_higher() -> None:
    both = C("s", "create_issue", "")
    one = C("s", "create_entities", "")
    assert score("create issue", both) > score("create issue", one) > 0


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
    assert len({score(query, c) for c in items}) == 1
    assert rank(query, items) == items


def test_rank_returns_a_new_list_and_leaves_the_input_alone() -> None:
    items = list(CATALOGUE)
    ranked = rank("file", items)
    assert items == CATALOGUE
    assert ranked is not items


# ----- stop words -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("noisy", "plain"),
    [
        ("read the file", "read file"),
        ("show me the current time", "current time"),
        ("what is the time in tokyo", "time tokyo"),
        ("post a message to a channel", "post message channel"),
        ("get an issue from my repository", "issue repository"),
    ],
)
def test_stop_words_do_not_change_scores(noisy: str, plain: str) -> None:
    for item in CATALOGUE:
        assert score(noisy, item) == score(plain, item), item


def test_the_stop_word_this_is_dropped_too() -> None:
    for item in CATALOGUE:
        assert score("list this directory", item) == score("list directory", item), item


def test_a_query_of_only_stop_words_still_searches() -> None:
    # Nothing left after dropping stop words: the words themselves are used.
    assert score("the", C("s", "tool", "Read the file.")) > 0
    assert score("the", C("s", "tool", "Read a file.")) == 0


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
