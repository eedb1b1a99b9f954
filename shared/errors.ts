/** Every error sentence the API sends, in one place (the wire contract fixes most of them). */
export const ERRORS = {
  notAuthenticated: "Not authenticated",
  badCredentials: "Could not validate credentials",
  incorrectLogin: "Incorrect username or password",
  usernameTaken: "Username already registered",
  recipientNotFound: "Recipient not found",
  messageNotFound: "Message not found",
  notFound: "Not Found",
  bodyTooLarge: "Request body is too large",
  unsupportedJson: "Unsupported media type: send the body as application/json",
  unsupportedForm: "Unsupported media type: send the form as application/x-www-form-urlencoded or multipart/form-data",
  databaseUnavailable: "The database is unavailable; try again shortly",
  realtimeUnavailable: "Realtime notifications are unavailable; try again shortly",
  internal: "Internal Server Error",
  eventCallerRejected: "The caller of the event handler could not be authenticated",
} as const;

export const MARKED_READ_MESSAGE = "Mensagem marcada como lida";
export const MARKED_UNREAD_MESSAGE = "Mensagem marcada como não lida";
