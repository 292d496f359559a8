"""The official `openai` Python SDK against Hearth's gateway, for each LLM named on the
command line: the model list, a whole answer, a stream, a tool-call round trip, and the
error an unknown model gets. Exits non-zero (with the assertion) on the first difference."""

import json
import os
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["HEARTH_URL"] + "/v1", api_key=os.environ["HEARTH_KEY"], max_retries=0)
tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]

for model in sys.argv[1:]:
    ids = [m.id for m in client.models.list()]
    assert model in ids, ids

    whole = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello"}])
    assert whole.model == model, whole
    assert whole.choices[0].message.content, whole
    assert whole.usage and whole.usage.total_tokens > 0, whole

    stream = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say hello"}], stream=True)
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    assert len(pieces) >= 1 and "".join(pieces) == whole.choices[0].message.content, (pieces, whole)

    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=tools)
    assert first.choices[0].finish_reason == "tool_calls", first
    call = first.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}, call
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18°C and sunny"})
    second = client.chat.completions.create(model=model, messages=messages, tools=tools)
    assert "18°C and sunny" in second.choices[0].message.content, second

    # The same round trip's first half streamed: the call is assembled from its deltas.
    arguments, names = "", []
    for c in client.chat.completions.create(model=model, messages=messages[:1], tools=tools, stream=True):
        for delta in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            if delta.function and delta.function.name:
                names.append(delta.function.name)
            arguments += (delta.function.arguments or "") if delta.function else ""
    assert names == ["get_weather"] and json.loads(arguments) == {"city": "Paris"}, (names, arguments)

try:
    client.chat.completions.create(model="no-such-llm", messages=[{"role": "user", "content": "hi"}])
    raise AssertionError("an unknown model was accepted")
except openai.NotFoundError as e:
    assert e.code == "model_not_found", e

print("openai SDK", openai.__version__, "ok:", ", ".join(sys.argv[1:]))
