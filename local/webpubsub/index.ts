export { startWebPubSubStandIn, type WebPubSubStandIn, type WebPubSubStandInOptions } from "./server";
