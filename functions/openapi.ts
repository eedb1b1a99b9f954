import "../shared/config/startup";
import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { openApiDocument } from "../shared/http/openapi";

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
