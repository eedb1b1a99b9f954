/** Takes the local stack's Web PubSub stand-in down and brings a new one up at the same address. */
import type { LocalStack } from "../../local/stack";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "../../local/webpubsub";
import { connectionStringField } from "../../shared/config/connection-string";

export interface StandInOutage {
  /** Closes the running stand-in: its port refuses connections from then on. */
  stop(): Promise<void>;
  /** Starts a fresh stand-in on the same port, posting its events to the stack's host; it becomes the stack's. */
  restart(): Promise<WebPubSubStandIn>;
}

export function standInOutage(stack: LocalStack): StandInOutage {
  let current = stack.webPubSub;
  if (!current || !stack.url) throw new Error("the stack runs no Web PubSub stand-in or no host");
  const { port, connectionString } = current;
  const accessKey = connectionStringField(connectionString, "AccessKey") as string;
  const events = `${stack.url}/webpubsub/events`;
  return {
    async stop() {
      await current?.close();
    },
    async restart() {
      current = await startWebPubSubStandIn({
        port,
        accessKey,
        eventHandlerUrl: () => {
          const key = process.env.WEBPUBSUB_EVENT_HANDLER_KEY;
          return key ? `${events}?key=${encodeURIComponent(key)}` : events;
        },
      });
      stack.webPubSub = current;
      return current;
    },
  };
}
