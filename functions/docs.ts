import "../shared/http/startup";

import { ERRORS } from "../shared/domain/errors";
import { defineEndpoint } from "../shared/http/endpoint";
import { HttpError } from "../shared/http/http";
import { DOCS_HEADERS, swaggerAsset } from "../shared/http/swagger-ui";

/** Swagger UI at /docs, its files at /docs/<file>. */
export const docs = defineEndpoint({
  name: "docs",
  method: "GET",
  route: "docs/{*asset}",
  summary: "Swagger UI",
  auth: "none",
  document: false,
  handler: async ({ request }) => {
    const asset = await swaggerAsset(request.params.asset ?? "");
    if (!asset) throw new HttpError(404, ERRORS.notFound);
    return {
      status: 200,
      body: asset.body,
      headers: { ...DOCS_HEADERS, "Content-Type": asset.contentType, "Cache-Control": "public, max-age=3600" },
    };
  },
});
