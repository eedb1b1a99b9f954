// What the Functions Node worker gives the app before it loads `main`: the
// `@azure/functions-core` module that `app.http` registers with. Registrations are counted;
// app-start hooks are kept for load-app.cjs to run, as the worker runs them after loading `main`.
const Module = require("node:module");
const registered = [];
const appStartHooks = [];
const core = {
  version: "bench",
  setProgrammingModel() {},
  getProgrammingModel() {},
  registerFunction(metadata) {
    registered.push(metadata.name);
    return { dispose() {} };
  },
  registerHook(name, callback) {
    if (name === "appStart") appStartHooks.push(callback);
    return { dispose() {} };
  },
  log() {},
  Disposable: class {
    dispose() {}
  },
};
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "@azure/functions-core" ? request : resolve.call(this, request, ...rest);
};
const mod = new Module("@azure/functions-core");
mod.exports = core;
mod.loaded = true;
Module._cache["@azure/functions-core"] = mod;
globalThis.__registeredFunctions = registered;
globalThis.__appStartHooks = appStartHooks;
