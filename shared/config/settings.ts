/**
 * The name of every setting the service reads, in one place. Infra (app settings),
 * local.settings.example.json and the docs must use exactly these names; a test checks it.
 */
export const SETTINGS = {
  secretKey: "SECRET_KEY",
  accessTokenExpireMinutes: "ACCESS_TOKEN_EXPIRE_MINUTES",
  bcryptCost: "BCRYPT_COST",
  passwordHashThreads: "PASSWORD_HASH_THREADS",
  passwordHashQueueMax: "PASSWORD_HASH_QUEUE_MAX",
  passwordHashMaxWaitMs: "PASSWORD_HASH_MAX_WAIT_MS",
  loginFailuresPerUserAddress: "LOGIN_FAILURES_PER_USER_ADDRESS",
  loginFailuresPerAddress: "LOGIN_FAILURES_PER_ADDRESS",
  loginFailureWindowSeconds: "LOGIN_FAILURE_WINDOW_SECONDS",
  loginBlockSeconds: "LOGIN_BLOCK_SECONDS",
  registrationsPerAddress: "REGISTRATIONS_PER_ADDRESS",
  registrationWindowSeconds: "REGISTRATION_WINDOW_SECONDS",
  databaseUrl: "DATABASE_URL",
  postgresHost: "POSTGRES_HOST",
  postgresPort: "POSTGRES_PORT",
  postgresDatabase: "POSTGRES_DATABASE",
  postgresUser: "POSTGRES_USER",
  postgresSsl: "POSTGRES_SSL",
  dbPoolMax: "DB_POOL_MAX",
  dbConnectionTimeoutMs: "DB_CONNECTION_TIMEOUT_MS",
  dbStatementTimeoutMs: "DB_STATEMENT_TIMEOUT_MS",
  dbMigrateOnStart: "DB_MIGRATE_ON_START",
  azureClientId: "AZURE_CLIENT_ID",
  webPubSubConnectionString: "WEBPUBSUB_CONNECTION_STRING",
  webPubSubEndpoint: "WEBPUBSUB_ENDPOINT",
  webPubSubHub: "WEBPUBSUB_HUB",
  webPubSubEventHandlerKey: "WEBPUBSUB_EVENT_HANDLER_KEY",
  webPubSubPushTimeoutMs: "WEBPUBSUB_PUSH_TIMEOUT_MS",
  requestMaxBytes: "REQUEST_MAX_BYTES",
} as const;

export type SettingName = (typeof SETTINGS)[keyof typeof SETTINGS];
