// Package entry: the TypeScript client for the bai manager's
// Backend.AI-compatible API. See docs/integrations.md, "JavaScript client".

export * from "./client.js";
export * from "./console.js";
export * from "./errors.js";
export * from "./sign.js";
export * from "./streams.js";
export type * from "./types.js";
