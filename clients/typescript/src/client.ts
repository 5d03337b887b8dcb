// RouterClient and ScorerClient: the router's and the scorer's RPCs over gRPC (HTTP/2), with an
// optional bearer token, TLS (or mTLS) and metadata. Errors are ConnectError, whose `code` is the
// gRPC status (Code.InvalidArgument, Code.Unauthenticated, ...) and `rawMessage` the server's text.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import type { CallOptions, Client, Interceptor, Transport } from "@connectrpc/connect";
import { Http2SessionManager, createGrpcTransport } from "@connectrpc/connect-node";

import {
  RouterService,
  type GetStatusResponse,
  type RouteRequestSchema,
  type RouteResponse,
  type RouteStreamRequestSchema,
  type RouteStreamResponse,
} from "./gen/orchestrouter/v1/router_pb.js";
import { ScorerService, type GetModelInfoResponse, type ScoreResponse } from "./gen/orchestrouter/v1/scorer_pb.js";

export type { CallOptions };

/** TLS settings: PEM contents (not file names), as Node's tls module takes them. */
export interface TlsOptions {
  /** The CA certificates that signed the server's certificate; the system's roots when omitted. */
  ca?: string | Buffer;
  /** This client's certificate and key, for a server that requires mTLS. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name the server's certificate must carry, when it is not the target's host. */
  serverName?: string;
}

export interface ClientOptions {
  /** Sent as `authorization: Bearer <token>` on every call. Without TLS it travels in the clear. */
  token?: string;
  /** `true` for TLS against the system's roots, or the CA, client certificate and server name. */
  tls?: boolean | TlsOptions;
  /** Extra metadata (gRPC headers) sent on every call. */
  metadata?: Record<string, string>;
  /** The deadline of a call that sets no `timeoutMs` of its own, in milliseconds. */
  timeoutMs?: number;
}

export type RouteRequestInit = MessageInitShape<typeof RouteRequestSchema>;
export type RouteStreamRequestInit = MessageInitShape<typeof RouteStreamRequestSchema>;

/** One embedding: its float values, in order. */
export type Embedding = ArrayLike<number>;

/** A request of one user message: what route() and routeStream() make of a plain string. */
function userMessage(text: string) {
  return { messages: [{ role: "user", content: text }] };
}

/** The transport to one service and the HTTP/2 connection under it, which close() ends. */
class Connection {
  readonly transport: Transport;
  readonly #session: Http2SessionManager;

  constructor(target: string, options: ClientOptions) {
    if (target.includes("://") || !/^[^\s/]+:\d+$/.test(target)) {
      throw new TypeError(`target must be HOST:PORT (e.g. 127.0.0.1:50051), not ${JSON.stringify(target)}`);
    }
    const tls = options.tls === true ? {} : options.tls || undefined;
    const baseUrl = `${tls ? "https" : "http"}://${target}`;
    const nodeOptions = tls ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername: tls.serverName } : {};
    this.#session = new Http2SessionManager(baseUrl, {}, nodeOptions);
    this.transport = createGrpcTransport({
      baseUrl,
      sessionManager: this.#session,
      interceptors: [tlsFailureAsUnavailable, withMetadata(options)],
      defaultTimeoutMs: options.timeoutMs,
    });
  }

  close(): void {
    this.#session.abort();
  }
}

function withMetadata(options: ClientOptions): Interceptor {
  const headers: [string, string][] = Object.entries(options.metadata ?? {});
  if (options.token !== undefined) {
    headers.push(["authorization", `Bearer ${options.token}`]);
  }
  return (next) => (request) => {
    for (const [name, value] of headers) {
      request.header.set(name, value);
    }
    return next(request);
  };
}

// Node's codes for a certificate that does not verify (OpenSSL's X509 errors such as
// UNABLE_TO_VERIFY_LEAF_SIGNATURE or CERT_HAS_EXPIRED, and ERR_TLS_CERT_ALTNAME_INVALID) and for a
// failed handshake (ERR_SSL_WRONG_VERSION_NUMBER, ...).
const TLS_FAILURE = /CERT|CRL|^UNABLE_TO_|^(INVALID_CA|INVALID_PURPOSE|PATH_LENGTH_EXCEEDED|HOSTNAME_MISMATCH)$|^ERR_(SSL|TLS)_/;

/** A failed TLS handshake is UNAVAILABLE, as gRPC's own clients report it (Connect says INTERNAL). */
const tlsFailureAsUnavailable: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    const code = tlsFailureCode(error);
    if (error instanceof ConnectError && error.code === Code.Internal && code) {
      const message = `TLS handshake with the server failed (${code}): ${error.rawMessage}`;
      throw new ConnectError(message, Code.Unavailable, undefined, undefined, error);
    }
    throw error;
  }
};

function tlsFailureCode(error: unknown): string | undefined {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TLS_FAILURE.test(code)) {
      return code;
    }
  }
  return undefined;
}

/** The router: Route, RouteStream and GetStatus. */
export class RouterClient {
  readonly #connection: Connection;
  readonly #client: Client<typeof RouterService>;

  /** target is HOST:PORT; nothing connects until the first call. */
  constructor(target: string, options: ClientOptions = {}) {
    this.#connection = new Connection(target, options);
    this.#client = createClient(RouterService, this.#connection.transport);
  }

  /** The routing decision and, unless dryRun, the chosen model's answer. */
  route(request: string | RouteRequestInit, options?: CallOptions): Promise<RouteResponse> {
    return this.#client.route(typeof request === "string" ? userMessage(request) : request, options);
  }

  /** The decision first, then the answer's text deltas, then the final response (usage included). */
  routeStream(request: string | RouteStreamRequestInit, options?: CallOptions): AsyncIterable<RouteStreamResponse> {
    return this.#client.routeStream(typeof request === "string" ? userMessage(request) : request, options);
  }

  /** The router's configuration and each endpoint's health and counters. */
  getStatus(options?: CallOptions): Promise<GetStatusResponse> {
    return this.#client.getStatus({}, options);
  }

  /** Ends the connection; calls in flight fail. */
  close(): void {
    this.#connection.close();
  }
}

/** The scorer: Score and GetModelInfo. */
export class ScorerClient {
  readonly #connection: Connection;
  readonly #client: Client<typeof ScorerService>;

  /** target is HOST:PORT; nothing connects until the first call. */
  constructor(target: string, options: ClientOptions = {}) {
    this.#connection = new Connection(target, options);
    this.#client = createClient(ScorerService, this.#connection.transport);
  }

  /** One win probability per embedding, in order. Every embedding must have the model's dimension. */
  score(embeddings: readonly Embedding[], options?: CallOptions): Promise<ScoreResponse> {
    return this.#client.score({ embeddings: packEmbeddings(embeddings) }, options);
  }

  /** The loaded model's id, version and the embedder (name and dimension) it expects. */
  getModelInfo(options?: CallOptions): Promise<GetModelInfoResponse> {
    return this.#client.getModelInfo({}, options);
  }

  /** Ends the connection; calls in flight fail. */
  close(): void {
    this.#connection.close();
  }
}

/** The rows as the scorer's EmbeddingBatch: row-major little-endian float32, whatever the host's order. */
export function packEmbeddings(embeddings: readonly Embedding[]): { data: Uint8Array; rows: number; dim: number } {
  const dim = embeddings[0]?.length ?? 0;
  const data = new Uint8Array(embeddings.length * dim * 4);
  const view = new DataView(data.buffer);
  embeddings.forEach((row, r) => {
    if (row.length !== dim) {
      throw new ConnectError(`embedding ${r} has ${row.length} values, embedding 0 has ${dim}`, Code.InvalidArgument);
    }
    for (let i = 0; i < dim; i++) {
      view.setFloat32((r * dim + i) * 4, row[i]!, true); // i < row.length
    }
  });
  return { data, rows: embeddings.length, dim };
}
