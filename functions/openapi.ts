import "../shared/startup";
import { defineEndpoint } from "../shared/endpoint";
import { ok } from "../shared/http";
import { openApiDocument } from "../shared/openapi";

/** The document describes every declared endpoint; the host loads every function file before it serves. */
export const openApi = defineEndpoint({
  name: "openapi",
  method: "GET",
  route: "openapi.json",
  summary: "The OpenAPI document",
  auth: "none",
  document: false,
  handler: async () => ok(openApiDocument()),
});
