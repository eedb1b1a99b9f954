/**
 * Settings that are fine on a developer's machine and dangerous in Azure: the values of
 * local.settings.example.json (public in this repository, so a token signed with its SECRET_KEY or an
 * event carrying its event-handler key can be forged by anyone) and anything marked
 * local-development-only. `func azure functionapp publish --publish-local-settings` copies exactly those,
 * so in Azure the app refuses to start with them, naming the setting and never its value.
 */
import EXAMPLE_SETTINGS from "../../local.settings.example.json";
import { SETTINGS, type SettingName } from "./settings";

/**
 * Variables the platform sets, as the Functions host itself reads them (its EnvironmentExtensions):
 * WEBSITE_INSTANCE_ID on App Service plans, WEBSITE_SKU on hosted plans (FlexConsumption, Dynamic, ...),
 * LEGION_SERVICE_HOST and WEBSITE_POD_NAME on Flex Consumption instances, also before the site's
 * settings arrive. Core Tools (`func start`) sets FUNCTIONS_CORETOOLS_ENVIRONMENT, which means local.
 */
export const AZURE_PLATFORM_VARIABLES = ["WEBSITE_INSTANCE_ID", "WEBSITE_SKU", "LEGION_SERVICE_HOST", "WEBSITE_POD_NAME"] as const;
export const CORE_TOOLS_VARIABLE = "FUNCTIONS_CORETOOLS_ENVIRONMENT";

/** Whether this process runs on Azure's Functions platform (not Core Tools, not the local host). */
export function runsInAzure(env: NodeJS.ProcessEnv): boolean {
  if (env[CORE_TOOLS_VARIABLE]) return false;
  return AZURE_PLATFORM_VARIABLES.some((name) => (env[name] ?? "").trim() !== "");
}

export const LOCAL_ONLY_MARKER = "local-development-only";
export const MIN_EVENT_HANDLER_KEY_LENGTH = 32;

const exampleValues: Readonly<Record<string, string>> = EXAMPLE_SETTINGS.Values;

/**
 * Why the settings may not run in Azure, one line per setting. `isProductionDefault` says whether a
 * value is what the code would use anyway (the example's `BCRYPT_COST` of 12 is harmless; its
 * relaxed limits are not).
 */
export function azureSettingProblems(env: NodeJS.ProcessEnv, isProductionDefault: (name: SettingName, value: string) => boolean): string[] {
  const problems: string[] = [];
  for (const name of Object.values(SETTINGS)) {
    const value = env[name]?.trim();
    if (!value) continue;
    if (value.toLowerCase().includes(LOCAL_ONLY_MARKER)) {
      problems.push(`${name} is marked ${LOCAL_ONLY_MARKER}; set a value of its own in Azure`);
    } else if (value === exampleValues[name]?.trim() && !isProductionDefault(name, value)) {
      problems.push(
        `${name} holds the value of local.settings.example.json, which is for local development only; set a value of its own in Azure`,
      );
    }
  }
  const eventHandlerKey = env[SETTINGS.webPubSubEventHandlerKey]?.trim();
  if (eventHandlerKey && eventHandlerKey.length < MIN_EVENT_HANDLER_KEY_LENGTH) {
    problems.push(
      `${SETTINGS.webPubSubEventHandlerKey} must be at least ${MIN_EVENT_HANDLER_KEY_LENGTH} characters in Azure (use a long random value)`,
    );
  }
  return problems;
}
