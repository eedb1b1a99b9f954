import "../shared/startup";
import { app } from "@azure/functions";
import { databaseAnswers } from "../shared/db";
import { endpoint, json, ok } from "../shared/http";

export const health = endpoint(async (_request, context) => {
  try {
    await databaseAnswers();
    return ok({ status: "ok" });
  } catch (error) {
    context.warn(`health check: database did not answer: ${(error as Error).message}`);
    return json(503, { detail: "The database is not answering" });
  }
});

app.http("health", { route: "health", methods: ["GET"], authLevel: "anonymous", handler: health });
