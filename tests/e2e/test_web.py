"""The chat page in a real Chromium against a real `rag serve`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.config import PROJECT_ROOT

pytestmark = pytest.mark.browser

ARTIFACTS = PROJECT_ROOT / "test-artifacts"
ANSWERABLE = "Who invited Hakim to Tehran?"
UNANSWERABLE = "What is the population of Baghdad?"
API_KEY = "test-key-123"
XSS_ARTICLE = """ALEPPO – The museum reopened its doors on Sunday after three years of repairs, officials said.
Visitors queued for hours to see the restored mosaics <script>window.__xss=1</script> in the great hall.
The curator said the hall <img src=x onerror="window.__xss=1"> would stay open late every Friday.
"""


@pytest.fixture()
def page(browser) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture()
def keyed_url(live_server) -> str:  # type: ignore[no-untyped-def]
    """A server that wants a key for reading too."""
    return live_server(RAG_API_KEYS=API_KEY, RAG_PUBLIC_READ="false")


def focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("document.activeElement.id")


def ask(page, question: str) -> None:  # type: ignore[no-untyped-def]
    """Send with Enter and wait until the answer has finished (locators only: the page's CSP forbids eval)."""
    turns = page.locator(".turn").count()
    page.fill("#question", question)
    page.keyboard.press("Enter")
    page.locator(".turn").nth(turns).locator(".answer:not(.answer--streaming)").wait_for()
    page.locator("#question:enabled").wait_for()


def test_answer_streams_with_chips_and_opens_the_cited_span(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    ask(page, ANSWERABLE)
    answer = page.locator(".answer").last
    assert answer.locator(".answer-label").inner_text().lower() == "answer"
    chips = answer.locator(".answer-text .chip")
    assert chips.count() >= 1
    expected = httpx.post(f"{server_url}/v1/ask", json={"question": ANSWERABLE}).json()
    first = expected["citations"][0]
    chips.first.click()
    mark = page.locator("#source-text mark")
    mark.wait_for()
    assert mark.inner_text() == first["text"]
    assert page.locator("#source-title").inner_text()
    assert "Ghalibaf" in answer.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desktop.png"))


def test_the_short_answer_is_bold_and_underlined_inside_the_cited_sentence(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    question = ANSWERABLE
    expected = httpx.post(f"{server_url}/v1/ask", json={"question": question}).json()
    span = expected["answer_span"]
    page.goto(server_url)
    ask(page, question)
    answer = page.locator(".answer").last
    assert answer.locator(".answer-short").inner_text() == span["text"]
    answer.locator(".answer-text .chip").first.click()
    page.locator("#source-text mark #answer-span").wait_for()
    assert page.locator("#answer-span").inner_text() == span["text"]
    cited = next(c for c in expected["citations"] if c["marker"] == span["marker"])
    assert page.locator("#source-text mark").inner_text() == cited["text"]


def test_unanswerable_question_looks_different(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    ask(page, UNANSWERABLE)
    answer = page.locator(".answer").last
    assert "answer--none" in (answer.get_attribute("class") or "")
    assert answer.locator(".answer-label").inner_text().lower() == "not in the corpus"
    assert answer.locator(".chip").count() == 0


def test_thread_survives_a_reload_and_new_chat_clears_it(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    ask(page, ANSWERABLE)
    page.reload()
    page.locator(".turn").first.wait_for()
    assert page.locator(".question").first.inner_text() == ANSWERABLE
    assert page.locator(".answer-text .chip").count() >= 1
    page.click("#new-chat")
    assert page.locator(".turn").count() == 0 and page.locator("#welcome").is_visible()


def test_follow_up_sends_history(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(r.post_data_json) if r.url.endswith("/v1/ask") else None)
    page.goto(server_url)
    ask(page, ANSWERABLE)
    ask(page, "What did they discuss?")
    assert sent[-1]["history"][0] == {"role": "user", "content": ANSWERABLE}
    assert sent[-1]["history"][1]["role"] == "assistant" and sent[-1]["stream"] is True


def test_server_error_shows_in_the_thread_with_retry(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    page.route("**/v1/ask", lambda route: route.fulfill(status=500, json={"detail": "boom", "type": "InternalError"}))
    ask(page, ANSWERABLE)
    error = page.locator(".answer--error")
    assert "boom" in error.inner_text() and "500" in error.inner_text()
    page.unroute("**/v1/ask")
    error.locator(".retry").click()
    page.locator(".answer-text .chip").first.wait_for()
    assert page.locator(".answer--error").count() == 0


def test_cut_off_stream_is_an_error(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    body = 'event: token\r\ndata: {"text": "Half an ans"}\r\n\r\n'
    page.route("**/v1/ask", lambda route: route.fulfill(status=200, body=body, content_type="text/event-stream"))
    ask(page, ANSWERABLE)
    assert "cut off" in page.locator(".answer--error").inner_text()


def test_corpus_text_is_never_run_as_html(page, live_server, build_index, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "xss"
    corpus.mkdir()
    (corpus / "museum.txt").write_text(XSS_ARTICLE)
    url = live_server(build_index(corpus))
    _assert_shown_as_text(page, url)


def test_uploaded_text_is_never_run_as_html(page, live_server, build_index, corpus_dir: Path) -> None:  # type: ignore[no-untyped-def]
    url = live_server(build_index(corpus_dir))  # its own index: the upload must not reach the shared one
    files = {"files": ("museum.txt", XSS_ARTICLE.encode(), "text/plain")}
    job = httpx.post(url + "/v1/documents", files=files, timeout=30).json()
    for _ in range(600):
        job = httpx.get(f"{url}/v1/ingest/{job['job_id']}").json()
        if job["state"] not in ("queued", "running"):
            break
        page.wait_for_timeout(100)
    assert job["state"] == "done" and job["added"] == ["museum"], job
    _assert_shown_as_text(page, url)


def _assert_shown_as_text(page, url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(url)
    ask(page, "What did visitors queue for hours to see at the museum?")
    answer = page.locator(".answer").last
    assert "<script>window.__xss=1</script>" in answer.inner_text()
    answer.locator(".answer-text .chip").first.click()
    page.locator("#source-text mark").wait_for()
    assert '<img src=x onerror="window.__xss=1">' in page.locator("#source-text").inner_text()
    assert page.evaluate("window.__xss") is None
    assert page.locator("#source-text img, #source-text script, .answer img, .answer script").count() == 0


def test_security_headers(server_url: str) -> None:
    response = httpx.get(server_url + "/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_documents_view(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    page.click("#open-docs")
    page.locator(".doc").first.wait_for()
    assert page.locator(".doc").count() == 5
    assert "passages" in page.locator(".doc").first.inner_text()
    page.keyboard.press("Escape")
    assert page.locator("#docs-panel").is_hidden()


def test_phone_width_has_no_horizontal_scroll(browser, server_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 375, "height": 812}, color_scheme="dark")
    page = context.new_page()
    page.goto(server_url)
    ask(page, ANSWERABLE)
    ask(page, UNANSWERABLE)
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"horizontal scroll at 375px: {width}"
    page.locator(".answer-text .chip").first.click()
    page.locator("#source-text mark").wait_for()
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "phone.png"))
    context.close()


def test_keyboard_and_stop(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server_url)
    page.fill("#question", "first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.input_value("#question") == "first line\nsecond line"
    assert page.locator(".turn").count() == 0
    page.route("**/v1/ask", lambda route: None)  # never answers: the request hangs until stopped
    page.keyboard.press("Enter")
    page.locator("#stop").wait_for()
    assert page.locator("#question").is_disabled()
    page.click("#stop")
    page.locator(".answer--error").wait_for()
    assert "Stopped" in page.locator(".answer--error").inner_text()
    assert not page.locator("#question").is_disabled()


def test_a_401_asks_for_a_key_refuses_a_wrong_one_and_answers_with_the_right_one(page, keyed_url: str) -> None:  # type: ignore[no-untyped-def]
    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if r.url.endswith("/v1/ask") else None)
    # As an older server would: no `read_requires_key`, so the page learns of the key from the 401.
    page.route("**/readyz", lambda route: route.fulfill(json={"status": "ready"}))
    page.goto(keyed_url)
    ask(page, ANSWERABLE)
    notice = page.locator("#key-notice")
    assert notice.is_visible() and "This server needs an API key." in notice.inner_text()
    assert "API key" in page.locator(".answer--error").inner_text()
    assert focused(page) == "api-key"

    page.fill("#api-key", "wrong-key")
    page.keyboard.press("Enter")
    page.locator("#key-error", has_text="That key was not accepted.").wait_for()
    page.locator("#question:enabled").wait_for()
    assert focused(page) == "api-key"

    page.fill("#api-key", API_KEY)
    page.keyboard.press("Enter")  # asks the refused question again
    page.locator(".answer-text .chip").first.wait_for()
    assert notice.is_hidden()
    assert page.locator(".turn").count() == 1 and page.locator(".answer--error").count() == 0
    assert "Ghalibaf" in page.locator(".answer").last.inner_text()
    page.locator(".answer-text .chip").first.click()
    page.locator("#source-text mark").wait_for()  # GET /v1/documents/{id} carries the key too

    assert sent == [None, "Bearer wrong-key", f"Bearer {API_KEY}"]
    assert API_KEY not in page.url
    assert page.evaluate("sessionStorage.getItem('newsrag.apiKey')") == API_KEY
    assert API_KEY not in page.evaluate("JSON.stringify(localStorage)")


def test_the_key_is_asked_for_before_the_first_question_and_kept_for_the_tab(page, keyed_url: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(keyed_url)
    page.locator("#key-notice").wait_for()  # from /readyz's read_requires_key
    assert focused(page) == "api-key"
    assert page.locator("label[for=api-key]").inner_text() == "API key"
    assert page.locator("#api-key").get_attribute("type") == "password"
    page.fill("#api-key", API_KEY)
    page.click("#api-key-save")
    assert page.locator("#key-notice").is_hidden() and focused(page) == "question"
    ask(page, ANSWERABLE)
    assert page.locator(".answer-text .chip").count() >= 1

    with page.expect_response(lambda r: r.url.endswith("/readyz")):
        page.reload()
    page.click("#open-docs")
    page.locator(".doc").first.wait_for()
    assert page.locator(".doc").count() == 5
    assert page.locator("#key-notice").is_hidden()
    assert API_KEY not in page.url


def test_a_refused_source_asks_for_the_key_then_opens(page, server_url: str) -> None:  # type: ignore[no-untyped-def]
    def guard(route) -> None:  # type: ignore[no-untyped-def]
        if route.request.headers.get("authorization") == "Bearer open-sesame":
            route.continue_()
        else:
            route.fulfill(status=401, json={"detail": "an API key is needed", "type": "Unauthorized"})

    with page.expect_response(lambda r: r.url.endswith("/readyz")):
        page.goto(server_url)
    ask(page, ANSWERABLE)
    assert page.locator("#key-notice").is_hidden()  # this server reads without a key
    page.route("**/v1/documents/*", guard)
    page.locator(".answer-text .chip").first.click()
    page.locator("#key-notice").wait_for()
    assert focused(page) == "api-key" and page.locator("#source-panel").is_hidden()
    page.fill("#api-key", "open-sesame")
    page.keyboard.press("Enter")
    page.locator("#source-text mark").wait_for()
    assert page.locator("#key-notice").is_hidden()


def test_with_a_local_llm_the_quick_answer_shows_first_then_the_checked_one(page, live_server) -> None:  # type: ignore[no-untyped-def]
    """The page is never blank while the model writes: the extractive answer, then the model's replaces it."""
    # The model answers every question here; by default a question a quote answers never waits for it.
    url = live_server(RAG_BACKEND="llamacpp", RAG_LLM_MODEL="qwen2.5-0.5b", RAG_LLM_QUESTIONS="all")
    page.goto(url)
    # The quick answer is recorded the moment it is drawn: on a server that was asked this before, the model's
    # prompt is already in its cache and the final answer can replace the quick one within a second.
    page.evaluate(
        """() => new MutationObserver((_, observer) => {
             const quick = document.querySelector(".answer--preliminary");
             if (!quick) return;
             window.quickAnswer = {
               label: quick.querySelector(".answer-label").textContent,
               chips: quick.querySelectorAll(".answer-text .chip").length,
               text: quick.textContent,
             };
             observer.disconnect();
           }).observe(document.body, { childList: true, subtree: true })"""
    )
    page.fill("#question", ANSWERABLE)
    page.keyboard.press("Enter")
    quick = None
    for _ in range(200):  # 10 s; polled from here: the page's CSP forbids wait_for_function's eval
        if quick := page.evaluate("() => window.quickAnswer"):
            break
        page.wait_for_timeout(50)
    assert quick, "no quick answer was drawn"
    assert quick["label"].lower().startswith("quick answer"), quick
    assert quick["chips"] >= 1 and "Ghalibaf" in quick["text"], quick
    final = page.locator(".turn").last.locator(".answer:not(.answer--streaming):not(.answer--preliminary)")
    final.wait_for(timeout=120_000)
    expected = httpx.post(f"{url}/v1/ask", json={"question": ANSWERABLE}, timeout=120).json()
    assert expected["stage"] == "final"
    shown = final.locator(".answer-label").inner_text().lower()
    assert shown == ("answer" if expected["answered"] else "not in the corpus")
