// ES module resolution hook: ES modules ignore NODE_PATH, so a bare import the function does
// not ship itself (`import { S3Client } from '@aws-sdk/client-s3'`) is looked up in the SDK
// that Lambda provides to the runtime, as Lambda's own Node.js runtimes do: canaria's own
// packages, then those installed for this function (CANARIA_SDK_PATH lists both).
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parentURLs = [];

export function initialize(data) {
  parentURLs = data.sdkPaths.map((dir) => pathToFileURL(path.join(dir, 'index.js')).href);
}

const bare = (s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !/^[a-z]+:/.test(s);

export async function resolve(specifier, context, next) {
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
