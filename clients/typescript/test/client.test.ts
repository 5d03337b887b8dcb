// The clients against running services. tests/test_client_typescript.py starts a scorer, a router
// dispatching to two fake OpenAI endpoints, and a second router behind mTLS and bearer tokens, then
// runs `npm test` with their addresses and the answers to expect in ORCHESTROUTER_TEST_* variables.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, describe, test } from "node:test";

import { Code, ConnectError, RouterClient, ScorerClient, Tier, packEmbeddings } from "../src/index.js";

function setting(name: string): string {
  const value = process.env[`ORCHESTROUTER_TEST_${name}`];
  if (!value) {
    throw new Error(`ORCHESTROUTER_TEST_${name} is not set: run these tests through tests/test_client_typescript.py`);
  }
  return value;
}

const WIN_PROBABILITY = Number(setting("WIN_PROBABILITY"));
const TIMEOUT = { timeoutMs: 20_000 };

/** The ConnectError a call rejects with (the assertion fails if it resolves or throws anything else). */
async function refusal(call: () => Promise<unknown>): Promise<ConnectError> {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call succeeded");
}

describe("RouterClient", () => {
  const router = new RouterClient(setting("ROUTER"), { timeoutMs: 20_000 });
  after(() => router.close());

  test("route answers with the premium model above the threshold", async () => {
    const response = await router.route("What is six times seven?");
    assert.equal(response.decision?.tier, Tier.PREMIUM);
    assert.ok(Math.abs((response.decision?.winProbability ?? 0) - WIN_PROBABILITY) < 1e-4);
    assert.equal(response.answer, setting("PREMIUM_ANSWER"));
    assert.ok((response.usage?.completionTokens ?? 0) > 0);
    assert.notEqual(response.requestId, "");
  });

  test("route with a threshold above the win probability goes to the small model", async () => {
    const response = await router.route({
      messages: [{ role: "user", content: "What is six times seven?" }],
      dial: { case: "threshold", value: Math.min(1, WIN_PROBABILITY + 0.05) },
    });
    assert.equal(response.decision?.tier, Tier.SMALL);
    assert.equal(response.answer, setting("SMALL_ANSWER"));
  });

  test("routeStream sends the decision, the deltas, then the final response", async () => {
    const events = [];
    for await (const event of router.routeStream("What is six times seven?", TIMEOUT)) {
      events.push(event.event);
    }
    assert.equal(events[0]?.case, "decision");
    assert.equal(events.at(-1)?.case, "done");
    const deltas = events.filter((e) => e.case === "delta").map((e) => e.value);
    assert.ok(deltas.length > 1, `expected several deltas, got ${deltas.length}`);
    const done = events.at(-1);
    assert.ok(done?.case === "done");
    assert.equal(deltas.join(""), setting("PREMIUM_ANSWER"));
    assert.equal(done.value.answer, "", "the deltas carry the text, not the final response");
    assert.equal(done.value.decision?.tier, Tier.PREMIUM);
    assert.ok((done.value.usage?.completionTokens ?? 0) > 0);
  });

  test("getStatus lists both endpoints with the calls they answered", async () => {
    await router.route({ messages: [{ role: "user", content: "count me" }], dryRun: false });
    const status = await router.getStatus();
    const tiers = status.endpoints.map((e) => e.tier).sort();
    assert.deepEqual(tiers, [Tier.SMALL, Tier.PREMIUM]);
    const premium = status.endpoints.find((e) => e.tier === Tier.PREMIUM);
    assert.ok((premium?.requests ?? 0n) >= 1n);
  });

  test("a request without a user message is INVALID_ARGUMENT", async () => {
    const error = await refusal(() => router.route({ messages: [] }));
    assert.equal(error.code, Code.InvalidArgument);
  });
});

describe("ScorerClient", () => {
  const scorer = new ScorerClient(setting("SCORER"), { timeoutMs: 20_000 });
  after(() => scorer.close());

  test("score returns one win probability per embedding", async () => {
    const info = await scorer.getModelInfo();
    const dim = info.embedder?.dim ?? 0;
    assert.equal(dim, Number(setting("SCORER_DIM")));
    const rows = [new Float32Array(dim).fill(0.01), Array.from({ length: dim }, (_, i) => (i % 7) / 100)];
    const response = await scorer.score(rows);
    assert.equal(response.winProbabilities.length, 2);
    for (const p of response.winProbabilities) {
      assert.ok(Math.abs(p - WIN_PROBABILITY) < 1e-4, `win probability ${p}`);
    }
    assert.equal(response.routerId, info.routerId);
  });

  test("an embedding of the wrong dimension is INVALID_ARGUMENT", async () => {
    const dim = Number(setting("SCORER_DIM"));
    const error = await refusal(() => scorer.score([new Float32Array(dim + 1)]));
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /dim/i);
  });

  test("rows of different lengths are refused before any call", async () => {
    const error = await refusal(async () => scorer.score([[1, 2], [3]]));
    assert.equal(error.code, Code.InvalidArgument);
  });
});

describe("mTLS and bearer token", () => {
  const ca = readFileSync(setting("CA_FILE"));
  const tls = { ca, cert: readFileSync(setting("CLIENT_CERT_FILE")), key: readFileSync(setting("CLIENT_KEY_FILE")) };
  const target = setting("SECURE_ROUTER");

  async function refusalFrom(options: ConstructorParameters<typeof RouterClient>[1]): Promise<ConnectError> {
    const router = new RouterClient(target, options);
    try {
      return await refusal(() => router.getStatus(TIMEOUT));
    } finally {
      router.close();
    }
  }

  test("a caller with the token, the CA and a client certificate is answered", async () => {
    const router = new RouterClient(target, { tls, token: setting("TOKEN"), metadata: { "x-test": "ts" } });
    try {
      const response = await router.route({ messages: [{ role: "user", content: "hello" }], dryRun: true }, TIMEOUT);
      assert.ok(response.decision?.model);
      assert.equal(response.answer, "");
      assert.equal((await router.getStatus(TIMEOUT)).endpoints.length, 2);
    } finally {
      router.close();
    }
  });

  test("a caller without the token is UNAUTHENTICATED", async () => {
    const error = await refusalFrom({ tls });
    assert.equal(error.code, Code.Unauthenticated);
  });

  test("a caller with a wrong token is UNAUTHENTICATED", async () => {
    const error = await refusalFrom({ tls, token: `${setting("TOKEN")}-not` });
    assert.equal(error.code, Code.Unauthenticated);
  });

  test("a server certificate from another CA is UNAVAILABLE", async () => {
    const error = await refusalFrom({ tls: true, token: setting("TOKEN") });
    assert.equal(error.code, Code.Unavailable);
    assert.match(error.rawMessage, /TLS handshake/);
  });

  test("a caller without a client certificate is refused", async () => {
    const error = await refusalFrom({ tls: { ca }, token: setting("TOKEN") });
    // Under TLS 1.3 the server refuses the certificate only after the client's handshake is done,
    // so Node sees the connection's streams cancelled rather than a handshake error.
    assert.ok([Code.Unavailable, Code.Canceled].includes(error.code), `code ${Code[error.code]}`);
  });
});

test("a URL instead of HOST:PORT is refused when the client is made", () => {
  assert.throws(() => new RouterClient("http://127.0.0.1:50051"), /HOST:PORT/);
});

test("packEmbeddings writes little-endian float32 rows", () => {
  const batch = packEmbeddings([[1.5, -2], [0, 3]]);
  assert.deepEqual([batch.rows, batch.dim, batch.data.length], [2, 2, 16]);
  const view = new DataView(batch.data.buffer);
  assert.deepEqual([0, 1, 2, 3].map((i) => view.getFloat32(i * 4, true)), [1.5, -2, 0, 3]);
});
