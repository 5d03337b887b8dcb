// The official openai Node SDK against the router's OpenAI-compatible front door, unmodified but for
// baseURL and apiKey. tests/test_frontdoor_node.py starts a router whose tiers are fake endpoints and
// runs `node --test` here with what to expect in the environment.
import assert from "node:assert/strict";
import { test } from "node:test";
import OpenAI from "openai";

const env = process.env;
const client = new OpenAI({ baseURL: env.FRONTDOOR_BASE_URL, apiKey: env.FRONTDOOR_API_KEY, maxRetries: 0 });
const messages = [{ role: "user", content: env.FRONTDOOR_QUESTION }];
const DECISION_HEADERS = JSON.parse(env.FRONTDOOR_DECISION_HEADERS);

function decisionOf(response) {
  for (const name of DECISION_HEADERS) {
    assert.ok(response.headers.has(name), `answer lacks the header ${name}`);
  }
  return Object.fromEntries(DECISION_HEADERS.map((name) => [name, response.headers.get(name)]));
}

test("a plain completion carries the answer and the decision", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "orchestrouter-auto", messages })
    .withResponse();
  assert.equal(data.object, "chat.completion");
  assert.equal(data.choices[0].message.content, env.FRONTDOOR_PREMIUM_ANSWER);
  assert.equal(data.model, env.FRONTDOOR_PREMIUM_MODEL);
  const decision = decisionOf(response);
  assert.equal(decision["x-orchestrouter-tier"], "premium");
  assert.equal(decision["x-orchestrouter-request-id"], data.id);
  assert.ok(data.usage.total_tokens > 0);
});

test("a streamed completion ends with the usage chunk", async () => {
  const { data: stream, response } = await client.chat.completions
    .create({ model: "orchestrouter-auto", messages, stream: true, stream_options: { include_usage: true } })
    .withResponse();
  const decision = decisionOf(response);
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, env.FRONTDOOR_PREMIUM_ANSWER);
  assert.ok(chunks.every((c) => c.id === decision["x-orchestrouter-request-id"]));
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage.total_tokens > 0);
});

test("models.list names the router and both tiers; a tier's model pins it", async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["orchestrouter-auto", env.FRONTDOOR_SMALL_MODEL, env.FRONTDOOR_PREMIUM_MODEL]);
  const { data, response } = await client.chat.completions
    .create({ model: env.FRONTDOOR_SMALL_MODEL, messages })
    .withResponse();
  assert.equal(data.choices[0].message.content, env.FRONTDOOR_SMALL_ANSWER);
  assert.equal(decisionOf(response)["x-orchestrouter-tier"], "small");
});

test("the dial goes in the request body", async () => {
  const { response } = await client.chat.completions
    .create({ model: "orchestrouter-auto", messages, orchestrouter: { threshold: 0.95 } })
    .withResponse();
  assert.equal(decisionOf(response)["x-orchestrouter-tier"], "small");
});

test("a wrong key is an AuthenticationError", async () => {
  const wrong = new OpenAI({ baseURL: env.FRONTDOOR_BASE_URL, apiKey: env.FRONTDOOR_WRONG_KEY, maxRetries: 0 });
  await assert.rejects(wrong.chat.completions.create({ model: "orchestrouter-auto", messages }), (err) => {
    assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err}`);
    assert.equal(err.status, 401);
    return true;
  });
});

test("an unknown model is a NotFoundError", async () => {
  await assert.rejects(client.chat.completions.create({ model: "gpt-17", messages }), (err) => {
    assert.ok(err instanceof OpenAI.NotFoundError, `got ${err}`);
    assert.equal(err.code, "model_not_found");
    return true;
  });
});

const tools = [
  {
    type: "function",
    function: {
      name: "lookup",
      description: "Looks a fact up.",
      parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
    },
  },
];

test("a tool call round trip", async () => {
  const { data: first, response } = await client.chat.completions
    .create({ model: "orchestrouter-auto", messages, tools })
    .withResponse();
  decisionOf(response);
  const choice = first.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  const [call] = choice.message.tool_calls;
  assert.equal(call.function.name, "lookup");
  assert.deepEqual(JSON.parse(call.function.arguments), { query: env.FRONTDOOR_QUESTION });
  const final = await client.chat.completions.create({
    model: "orchestrouter-auto",
    tools,
    messages: [...messages, choice.message, { role: "tool", tool_call_id: call.id, content: env.FRONTDOOR_TOOL_RESULT }],
  });
  assert.equal(final.choices[0].message.content, env.FRONTDOOR_TOOL_ANSWER);
});

test("JSON mode answers a JSON object", async () => {
  const { data, response } = await client.chat.completions
    .create({ model: "orchestrouter-auto", messages, response_format: { type: "json_object" } })
    .withResponse();
  decisionOf(response);
  assert.deepEqual(JSON.parse(data.choices[0].message.content), JSON.parse(env.FRONTDOOR_JSON_ANSWER));
});
