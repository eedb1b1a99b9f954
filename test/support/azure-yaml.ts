/**
 * Reads azure.yaml: the subset it uses (nested `key:` maps, `key: value` scalars, comments), enough
 * to test what azd will run without a YAML dependency. Anything else in the file throws.
 */
export type YamlMap = { [key: string]: string | YamlMap };

export function parseYamlMaps(text: string): YamlMap {
  const root: YamlMap = {};
  const stack: { indent: number; map: YamlMap }[] = [{ indent: -1, map: root }];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.replace(/\s+#.*$/, "").replace(/^\s*#.*$/, "");
    if (!line.trim()) continue;
    const match = /^( *)([\w.-]+):(?: (.*))?$/.exec(line);
    if (!match) throw new Error(`azure.yaml line ${index + 1}: not a key of a map: ${raw}`);
    const [, spaces, key, value] = match;
    while (stack[stack.length - 1].indent >= spaces.length) stack.pop();
    const parent = stack[stack.length - 1].map;
    if (value === undefined) {
      const child: YamlMap = {};
      parent[key] = child;
      stack.push({ indent: spaces.length, map: child });
    } else {
      parent[key] = value.replace(/^(["'])(.*)\1$/, "$2");
    }
  }
  return root;
}

export interface HookCommand {
  shell: string;
  run: string;
  continueOnError: string;
}
type Hooks = Record<string, { posix: HookCommand; windows: HookCommand }>;
export interface AzureYaml {
  name: string;
  requiredVersions: { azd: string };
  services: Record<string, { project: string; language: string; host: string; dist: string; remoteBuild: string; hooks: Hooks }>;
  hooks: Hooks;
}

export const azureYaml = (text: string) => parseYamlMaps(text) as unknown as AzureYaml;
