// ES module resolution hook: ES modules ignore NODE_PATH, so a bare import the function does
// not ship itself (`import { S3Client } from '@aws-sdk/client-s3'`) is looked up in the SDK
// that Lambda provides to the runtime, as Lambda's own Node.js runtimes do: canaria's own
// packages, then those installed for this function (CANARIA_SDK_PATH lists both).
// An absolute import from /opt (`import { config } from '/opt/nodejs/config.mjs'`, the way an
// ES module uses a layer) is the file in the function's layers, as Lambda extracts them
// there: the last layer that has it.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

let parentURLs = [];
let layers = [];

export function initialize(data) {
  parentURLs = data.sdkPaths.map((dir) => pathToFileURL(path.join(dir, 'index.js')).href);
  layers = [...(data.layerPaths || [])].reverse();
}

function inLayers(specifier) {
  let file = null;
  if (specifier.startsWith('/opt/')) file = specifier;
  else if (specifier.startsWith('file:///opt/')) file = fileURLToPath(specifier);
  if (file === null) return null;
  const rest = file.slice('/opt/'.length);
  for (const layer of layers) {
    const candidate = path.join(layer, rest);
    if (candidate.startsWith(layer + path.sep) && fs.existsSync(candidate)) {
      return pathToFileURL(candidate).href;
    }
  }
  return null;
}

const bare = (s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !/^[a-z]+:/.test(s);

export async function resolve(specifier, context, next) {
  const layered = layers.length ? inLayers(specifier) : null;
  if (layered !== null) return next(layered, context);
  try {
    return await next(specifier, context);
  } catch (err) {
    if (!(err && err.code === 'ERR_MODULE_NOT_FOUND' && bare(specifier))) throw err;
    for (const parentURL of parentURLs) {
      try {
        return await next(specifier, { ...context, parentURL });
      } catch (_e) {
        // not in this one: the next, else the function's own error
      }
    }
    throw err;
  }
}
