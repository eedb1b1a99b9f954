import "../shared/startup";
import { app, type HttpRequest } from "@azure/functions";
import { ERRORS } from "../shared/errors";
import { endpoint, HttpError } from "../shared/http";
import { swaggerAsset } from "../shared/swagger-ui";

/** Swagger UI at /docs, its files at /docs/<file>. */
export const docs = endpoint(async (request: HttpRequest) => {
  const asset = await swaggerAsset(request.params.asset ?? "");
  if (!asset) throw new HttpError(404, ERRORS.notFound);
  return { status: 200, body: asset.body, headers: { "Content-Type": asset.contentType, "Cache-Control": "public, max-age=3600" } };
});

app.http("docs", { route: "docs/{*asset}", methods: ["GET"], authLevel: "anonymous", handler: docs });
