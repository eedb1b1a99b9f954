// The environment for a child process that must not see the developer's own settings: only what the
// OS needs to start a program (on Windows, Node cannot even seed its random numbers or find a temp
// folder without SystemRoot, TEMP and the like), plus the given variables.

/** Variables the OS and Node need, matched without regard to case as Windows does (Path, SYSTEMROOT). */
export const OS_VARIABLES = [
  "PATH",
  "PATHEXT",
  "SystemRoot",
  "SystemDrive",
  "windir",
  "ComSpec",
  "TEMP",
  "TMP",
  "TMPDIR",
  "HOME",
  "USERPROFILE",
  "APPDATA",
  "LOCALAPPDATA",
  "ProgramData",
  "NUMBER_OF_PROCESSORS",
  "PROCESSOR_ARCHITECTURE",
  "LANG",
  "TZ",
];

/** `base`'s OS variables (under their own spelling) with `extra` over them. */
export function childEnv(base, extra = {}) {
  const wanted = new Set(OS_VARIABLES.map((name) => name.toUpperCase()));
  const env = Object.fromEntries(Object.entries(base).filter(([name, value]) => value !== undefined && wanted.has(name.toUpperCase())));
  return { ...env, ...extra };
}
