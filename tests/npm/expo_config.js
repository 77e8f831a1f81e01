// Reads Expo projects with Expo's own tools, as `npx expo config` does. Standard input is a
// JSON list of {root, env}: a project folder and the environment variables its app.config.js
// reads (null: unset), in force only while that project is read. Prints a JSON list, one
// object per project, each with
//   config:   getConfig(...).exp, the config an app sees at run time (extra, plugins, ios, android)
//   infoPlist, manifest: what prebuild would write, from `expo config --type introspect`'s
//             steps (getPrebuildConfigAsync + compileModsAsync with introspect), so every
//             plugin's mods (expo-location's too) run without a native project;
// or, when reading the project throws, {error: message}.
// Projects resolve packages through their own node_modules, as in an app: NODE_PATH, which
// run_node sets for this script, is dropped, so a project without a package really lacks it.
'use strict';

const fs = require('fs');
const Module = require('module');
const path = require('path');

delete process.env.NODE_PATH;
Module._initPaths();

const { getConfig } = require('@expo/config');
const { compileModsAsync } = require('@expo/config-plugins');
const { getPrebuildConfigAsync } = require('@expo/prebuild-config');

const PLATFORMS = ['ios', 'android'];

async function readProject(projectRoot) {
  const { exp } = getConfig(projectRoot, {
    skipSDKVersionRequirement: true,
    isPublicConfig: false,
  });
  const prebuild = await getPrebuildConfigAsync(projectRoot, { platforms: PLATFORMS });
  const compiled = await compileModsAsync(prebuild.exp, {
    projectRoot,
    platforms: PLATFORMS,
    introspect: true,
    assertMissingModProviders: false,
  });
  const results = compiled._internal.modResults;
  delete exp._internal;
  return { config: exp, infoPlist: results.ios.infoPlist, manifest: results.android.manifest };
}

// Each project is read as a fresh `npx expo config` process would: nothing of an earlier
// project's app.config.js or plugin files stays in the module cache.
function forgetProjectModules() {
  const installed = fs.realpathSync(path.join(__dirname, 'node_modules')) + path.sep;
  for (const file of Object.keys(require.cache)) {
    if (!file.startsWith(installed)) delete require.cache[file];
  }
}

async function readWithEnv({ root, env }) {
  forgetProjectModules();
  const saved = { ...process.env };
  for (const [name, value] of Object.entries(env)) {
    if (value === null) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    return await readProject(path.resolve(root));
  } catch (error) {
    // A config that throws is a result too (a recipe's own error message, say).
    return { error: String(error && error.message ? error.message : error) };
  } finally {
    for (const name of Object.keys(env)) {
      if (name in saved) process.env[name] = saved[name];
      else delete process.env[name];
    }
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const out = [];
  for (const project of JSON.parse(Buffer.concat(chunks).toString('utf8'))) {
    out.push(await readWithEnv(project));
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
