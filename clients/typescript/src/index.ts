// The package's entry: the two clients, and the generated messages and enums they speak.
export * from "./client.js";
export * from "./gen/orchestrouter/v1/router_pb.js";
export * from "./gen/orchestrouter/v1/scorer_pb.js";
export { Code, ConnectError } from "@connectrpc/connect";
