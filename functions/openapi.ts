import "../shared/http/startup";

import { defineEndpoint } from "../shared/http/endpoint";
import { ok } from "../shared/http/http";
import { openApiDocument } from "../shared/http/openapi";
import { everyFunctionLoaded } from "../shared/http/registration";

/** The document describes every declared endpoint, so every function file must have loaded (the bundle loads them late). */
export const openapi = defineEndpoint({
  name: "openapi",
  method: "GET",
  route: "openapi.json",
  summary: "The OpenAPI document",
  auth: "none",
  document: false,
  handler: async () => {
    await everyFunctionLoaded();
    return ok(openApiDocument());
  },
});
