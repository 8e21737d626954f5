"""What the teacher client and its Batch API path share: a request's outcome, the answer text of
a chat-completion body, token estimates, and the redaction that keeps the API key out of every message.

Both supercorrect.teacher.client (online requests) and supercorrect.teacher.batch (the Batch
API) import this module; neither imports the other at run time.

    python -c "from supercorrect.teacher.wire import answer_text; print(answer_text({'choices': [{'message': {'content': 'hi'}}]}))"
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from urllib.parse import urlsplit


class TeacherError(RuntimeError):
    """A teacher failure that stops the stage; the message is one line and holds no secret."""


@dataclass
class Outcome:
    text: str | None
    error: str | None = None  # short reason when there is no text
    # Why there is no text: "endpoint" (connection errors, timeouts, 5xx: what the circuit breaker
    # counts), "refused" (a 4xx for this item), "unsent" (too long or over budget), "other".
    kind: str | None = None
    last: str | None = None  # the last attempt's error, and how many attempts there were
    tries: int = 0


class MalformedAnswer(ValueError):
    """A 200 whose body is not a usable chat completion."""


def answer_text(data) -> str:
    """The answer text of a chat-completion body; MalformedAnswer for anything but text.

    Some servers send `content` as a list of parts ([{"type": "text", "text": ...}]): the text
    parts are joined. A number, an object, null or a body cut short is malformed.
    """
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise MalformedAnswer(f"no choices[0].message.content ({type(exc).__name__})") from None
    if isinstance(content, list):
        texts = [part if isinstance(part, str) else part.get("text") if isinstance(part, dict) else None
                 for part in content]
        if content and all(isinstance(t, str) for t in texts):
            return "".join(texts)
        raise MalformedAnswer("content is a list without text parts")
    if not isinstance(content, str):
        raise MalformedAnswer(f"content is {'null' if content is None else type(content).__name__}, not text")
    return content


# The rule of thumb for English text with GPT-class tokenizers; the exact count is the endpoint's.
CHARS_PER_TOKEN = 4


def estimate_tokens(messages: list[dict]) -> int:
    """A prompt's token count, estimated from its text (about 4 characters a token)."""
    return math.ceil(sum(len(m["content"]) for m in messages) / CHARS_PER_TOKEN)


def endpoint(sdk) -> str:
    """The endpoint URL to name in an error: scheme, host, port and path; never userinfo or query."""
    parts = urlsplit(str(sdk.base_url))
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path.rstrip('/')}"


def redact(message: str) -> str:
    """Drop the API key from a message (a server may echo it) and keep one line."""
    key = os.environ.get("OPENAI_API_KEY")
    if key:
        message = message.replace(key, "***")
    return " ".join(message.split())[:300]
