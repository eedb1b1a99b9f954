/** A local Microsoft Entra for one managed identity: its token endpoint, and verification for the stand-ins. */
export { createVerifier, Issuer, RESOURCES, type TokenVerifier, type Verification } from "./issuer";
export { MSI_API_VERSION, MSI_PATH, startIdentityEndpoint, type IdentityEndpoint } from "./endpoint";
