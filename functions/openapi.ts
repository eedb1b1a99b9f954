import "../shared/startup";
import { app } from "@azure/functions";
import { endpoint, ok } from "../shared/http";
import { openApiDocument } from "../shared/openapi";

export const openApi = endpoint(async () => ok(openApiDocument()));

app.http("openapi", { route: "openapi.json", methods: ["GET"], authLevel: "anonymous", handler: openApi });
